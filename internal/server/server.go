// Package server is the HTTP side of the API: routing, the middleware chain
// around the GraphQL handler (request ids, access log, CORS, body limit,
// authentication, dataloaders), health and metrics endpoints, and graceful
// shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/rs/cors"

	"github.com/brickgallery/sets/graph"
	"github.com/brickgallery/sets/graph/loader"
	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/live"
	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/persisted"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/reqid"
	"github.com/brickgallery/sets/internal/store"
)

// Deps are what the server runs on.
type Deps struct {
	Config   config.Config
	Store    *store.Store
	Migrator *postgres.Migrator // for /readyz: no migration may be pending
	Log      *slog.Logger
	// GraphiQL serves the IDE at "/" when Config.GraphiQL is on.
	GraphiQL http.Handler
	// TrustedDocuments, loaded from Config.TrustedDocuments, are then the
	// only documents that run.
	TrustedDocuments *persisted.Documents
	// Media stores uploaded photos and serves them at /media/; nil turns
	// uploads off.
	Media media.Store
	// Live fans the change log out to subscriptions; nil turns them off.
	Live *live.Hub
}

// Handler is the whole HTTP handler, and the subscription sockets it
// holds, which an http.Server's Shutdown does not see (hijacked).
type Handler struct {
	http.Handler
	sockets *graph.Sockets
}

// CloseSockets closes every subscription socket with 1001 and waits, until
// ctx ends, for them to be gone. Serve calls it once requests have drained.
func (h *Handler) CloseSockets(ctx context.Context) error {
	if h.sockets == nil {
		return nil
	}
	return h.sockets.Shutdown(ctx)
}

// New returns the whole HTTP handler.
func New(d Deps) *Handler {
	m := newMetrics(d.Store.DB().DB, d.Store.ReadStats)
	m.registry.MustRegister(newReplicaCollector(d.Store.RouteStats))
	// A multipart body holds the largest file it may carry (an import or
	// a photo) and 1 MiB for the rest of the form.
	maxMultipart := max(int64(graph.MaxImportBytes), int64(d.Config.MediaMaxBytes)) + 1<<20
	var uploads *graph.Media
	if d.Media != nil {
		uploads = &graph.Media{Processor: media.NewProcessor(d.Config.MediaDecoders), Store: d.Media,
			URL: d.Config.MediaURL, MaxBytes: int64(d.Config.MediaMaxBytes)}
	}
	verifier := auth.NewVerifier(d.Config.JWTSecret)
	authn := newAuthenticator(verifier, d.Store, d.Log)
	var subs *graph.Live
	if d.Live != nil {
		subs = &graph.Live{Hub: d.Live, MaxPerConnection: d.Config.LiveMaxPerConnection,
			Authenticate: authn.socket, Sockets: graph.NewSockets(d.Config.CORSAllowedOrigins),
			PingInterval: d.Config.LivePingInterval}
		m.addLive(d.Live, subs.Sockets)
	}
	gql := graph.NewServer(graph.Options{
		Live:              subs,
		Media:             uploads,
		MaxMultipartBytes: maxMultipart,
		Store:             d.Store,
		Log:               d.Log,
		ComplexityLimit:   d.Config.ComplexityLimit,
		DepthLimit:        d.Config.DepthLimit,
		Introspection:     d.Config.Introspection,
		TrustedDocuments:  d.TrustedDocuments,
		OnOperation:       m.onOperation,
	})
	var api http.Handler = loader.Middleware(d.Store, gql)
	api = authenticate(authn, api)
	api = limitBody(MaxBodyBytes, maxMultipart, api)
	api = jsonBodies(api)
	// CORS wraps every refusal above, so a browser sees the real status.
	crossOrigin := cors.New(cors.Options{
		AllowedOrigins: d.Config.CORSAllowedOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Authorization", "Content-Type"},
		// Content-Disposition too, so a frontend that downloads the
		// export with fetch can name the file as the server does.
		ExposedHeaders: []string{reqid.Header, "Content-Disposition"},
		MaxAge:         600,
	})
	api = crossOrigin.Handler(api)
	api = methods(api, http.MethodGet, http.MethodPost, http.MethodOptions)
	// The same token as /graphql; a preflight is answered by CORS.
	export := crossOrigin.Handler(authenticate(authn, exportSets(d.Store, d.Log)))
	if subs != nil {
		// A socket authenticates in its connection_init (browsers cannot
		// set headers on one), and is no CORS request: its Origin is
		// checked when it is accepted.
		api = upgrades(gql, api)
	}

	mux := http.NewServeMux()
	mux.Handle("/graphql", api)
	mux.Handle("/export/sets.csv", export)
	if d.Media != nil {
		mux.Handle("GET /media/{key}", serveMedia(d.Media, d.Log))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /readyz", readyz(d))
	mux.Handle("GET /metrics", m.handler())
	if d.Config.GraphiQL && d.GraphiQL != nil {
		mux.Handle("/", d.GraphiQL)
	}
	h := &Handler{Handler: reqid.Middleware(accessLog(d.Log, recoverPanics(d.Log, mux)))}
	if subs != nil {
		h.sockets = subs.Sockets
	}
	return h
}

// upgrades sends WebSocket upgrade requests to sockets, the rest to next.
func upgrades(sockets, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if graph.IsWebSocketUpgrade(r) {
			// The access log line is written when the upgrade is done and
			// the socket lives on: its operations must not write into
			// the request's record, which is no longer read.
			sockets.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, (*requestInfo)(nil))))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// methods answers 405 to any other method, with an Allow header.
func methods(next http.Handler, allowed ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range allowed {
			if r.Method == m {
				next.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		writeGraphQLError(w, http.StatusMethodNotAllowed, "BAD_REQUEST", "use GET or POST", reqid.FromContext(r.Context()))
	})
}

// jsonBodies answers 415 to a POST whose body is neither JSON nor a
// multipart upload, with a coded error saying what to send (gqlgen would
// answer a bare 400 "transport not supported").
func jsonBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || (mediaType != "application/json" && mediaType != "multipart/form-data") {
				writeGraphQLError(w, http.StatusUnsupportedMediaType, "BAD_REQUEST",
					"send the request body as Content-Type: application/json, or multipart/form-data for a file upload",
					reqid.FromContext(r.Context()))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// recoverPanics turns a panic outside gqlgen (which has its own recovery)
// into a logged 500.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "handler panicked", "request_id", reqid.FromContext(r.Context()), "panic", fmt.Sprint(p))
				writeGraphQLError(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal error", reqid.FromContext(r.Context()))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// readyz answers 200 only while the database answers and no migration is
// pending, so a load balancer never routes to a server whose schema is
// behind.
func readyz(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := postgres.Ping(ctx, d.Store.DB().DB); err != nil {
			d.Log.WarnContext(ctx, "not ready: database", "err", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		n, err := d.Migrator.Pending(ctx)
		if err != nil {
			d.Log.WarnContext(ctx, "not ready: migrations", "err", err)
			http.Error(w, "cannot read migration status", http.StatusServiceUnavailable)
			return
		}
		if n > 0 {
			http.Error(w, fmt.Sprintf("%d migration(s) pending", n), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
}

// Serve serves h on ln until ctx is done, then stops accepting, lets
// in-flight requests finish for up to drain, and returns.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, drain time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", drain)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("drain requests: %w", err)
	}
	// Hijacked, the subscription sockets are not the server's: closed
	// now, with 1001, their clients reconnect elsewhere and resume.
	if s, ok := h.(interface{ CloseSockets(context.Context) error }); ok {
		if err := s.CloseSockets(sctx); err != nil {
			return err
		}
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("shut down cleanly")
	return nil
}
