package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/live"
	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/persisted"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/server"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/migrations"
)

// runServe runs the HTTP server until ctx ends (SIGINT or SIGTERM).
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "sets serve [--addr HOST:PORT] [--database-url URL] [--trusted-documents FILE] [--migrate=false]", stderr)
	addr := fs.String("addr", "", "listen address (overrides ADDR)")
	dbURL := fs.String("database-url", "", "PostgreSQL URL (overrides DATABASE_URL)")
	trustedFile := fs.String("trusted-documents", "", "manifest of the only documents to run (overrides TRUSTED_DOCUMENTS)")
	migrate := fs.Bool("migrate", true, "create the database and apply pending migrations before serving")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("serve takes no arguments, got %q", fs.Args())}
	}
	cfg, err := config.FromEnv(overlay(getenv, map[string]string{
		"ADDR": *addr, "DATABASE_URL": *dbURL, "TRUSTED_DOCUMENTS": *trustedFile}))
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	// Before the database: a bad manifest is a configuration mistake, and
	// says so at once.
	trusted, err := loadTrustedDocuments(cfg.TrustedDocuments)
	if err != nil {
		return fmt.Errorf("configuration: TRUSTED_DOCUMENTS: %w", err)
	}
	log := newLogger(cfg, stderr)
	tuneGC(getenv, log)
	if trusted.Len() > 0 && cfg.GraphiQL {
		log.Warn("TRUSTED_DOCUMENTS is set: GraphiQL's own queries (introspection, anything typed) will be refused",
			"trusted_documents", trusted.Len())
	}
	if cfg.JWTSecretDefaulted {
		log.Warn("AUTH_JWT_SECRET is not set: using the public development secret (refused in production)")
	}
	env := dbEnv{url: cfg.DatabaseDirectURL, log: log}
	if *migrate {
		applied, err := migrateUp(ctx, env)
		if err != nil {
			return err
		}
		log.Info("migrations up to date", "applied_now", len(applied))
	}
	db, err := postgres.Open(cfg.DatabaseURL, postgres.PoolConfig{MaxConns: cfg.DBMaxConns})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := postgres.Ping(ctx, db.DB); err != nil {
		return fmt.Errorf("database %s does not answer: %w", redact(cfg.DatabaseURL), err)
	}
	ms, err := migrations.New()
	if err != nil {
		return err
	}
	photos, err := media.OpenStore(ctx, cfg.MediaStore, getenv)
	if err != nil {
		return fmt.Errorf("MEDIA_STORE: %w", err)
	}
	var ide http.Handler
	if cfg.GraphiQL {
		// Its assets are 4 MB of heap: in production, where it is off,
		// they only took room under GOMEMLIMIT (and 6-7 MB of RSS).
		ide = graphiqlHandler()
	}
	// Replicas that do not answer yet are no reason not to start: reads
	// go to the primary until their probers find them.
	replicas, err := postgres.OpenReplicas(db.DB, cfg.DatabaseReplicaURLs,
		postgres.PoolConfig{MaxConns: cfg.DBMaxConns}, postgres.ReplicaOptions{MaxLag: cfg.ReplicaMaxLag, Log: log})
	if err != nil {
		return fmt.Errorf("DATABASE_REPLICA_URLS: %w", err)
	}
	defer replicas.Close()
	st := store.New(db, store.Options{NoPrepare: !cfg.DBPrepare, MaxActiveReads: cfg.DBMaxActiveReads,
		Retry: postgres.Retry{Within: cfg.DBRetryWithin}, Replicas: replicas})
	// Removes the files of deleted photos, as the database queues them.
	go media.RunJanitor(ctx, st, photos, janitorInterval, log)
	go pruneChanges(ctx, st, log)
	// Live updates outlive ctx (SIGTERM) until Serve has drained requests
	// and closed the sockets with 1001: subscribers keep getting changes
	// meanwhile.
	liveCtx, stopLive := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLive()
	hub := live.NewHub(st, log, live.Limits{PerUser: cfg.LiveMaxPerUser, PerInstance: cfg.LiveMaxSubscriptions,
		Buffer: cfg.LiveQueue})
	go hub.Run(liveCtx)
	go live.Listen(liveCtx, cfg.DatabaseDirectURL, hub, log, nil)
	h := server.New(server.Deps{
		Live:             hub,
		Config:           cfg,
		Store:            st,
		Migrator:         postgres.NewMigrator(db, ms, log),
		Log:              log,
		GraphiQL:         ide,
		TrustedDocuments: trusted,
		Media:            photos,
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "env", cfg.Env,
		"graphiql", cfg.GraphiQL, "introspection", cfg.Introspection, "trusted_documents", trusted.Len(),
		"replicas", len(cfg.DatabaseReplicaURLs))
	return server.Serve(ctx, ln, h, cfg.ShutdownTimeout, log)
}

// The change log keeps at least 30 days and at least the last 10,000
// changes of each user (SPEC §11); older entries are pruned every
// pruneInterval, in batches that hold their locks briefly.
const (
	changesKeepFor  = 30 * 24 * time.Hour
	changesKeepLast = 10_000
	pruneInterval   = 10 * time.Minute
	pruneBatch      = 10_000
)

// pruneChanges deletes what the change log no longer has to keep, now and
// then every pruneInterval, until ctx ends.
func pruneChanges(ctx context.Context, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		n, err := st.PruneChanges(ctx, changesKeepFor, changesKeepLast, pruneBatch)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("prune the change log", "err", err)
		case n > 0:
			log.Info("pruned the change log", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// janitorInterval is how often the media janitor looks for queued
// deletions: a deleted photo's files are gone within a few seconds.
const janitorInterval = 2 * time.Second

// loadTrustedDocuments reads the manifest at path; no path, no manifest.
func loadTrustedDocuments(path string) (*persisted.Documents, error) {
	if path == "" {
		return nil, nil
	}
	return persisted.Load(path)
}

// Garbage collector defaults for serving, used unless GOGC or GOMEMLIMIT
// say otherwise. A gallery page allocates about 0.2 MB of short-lived
// objects over a live heap of a few MB, so the default GOGC=100 collects
// every few requests. With GOGC=800 the soft limit alone decides when to
// collect: 44 MiB kept the server at 56-58 MB peak RSS under 8 and 32
// clients (48 MiB: 60-61 MB), and cost 8 % less server CPU per gallery page
// than GOGC=400 with 40 MiB in A/B runs under wrk.
const (
	defaultGCPercent   = 800
	defaultMemoryLimit = 44 << 20
)

func tuneGC(getenv func(string) string, log *slog.Logger) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
		log.Debug("GOGC unset: using the server default", "gogc", defaultGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
		log.Debug("GOMEMLIMIT unset: using the server default", "bytes", defaultMemoryLimit)
	}
}

// overlay returns getenv with the non-empty values of over taking
// precedence: flags override the environment.
func overlay(getenv func(string) string, over map[string]string) func(string) string {
	return func(k string) string {
		if v := over[k]; v != "" {
			return v
		}
		return getenv(k)
	}
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// redact drops the password from a database URL for messages.
func redact(dsn string) string {
	cfg, err := postgres.ParseConfig(dsn)
	if err != nil {
		return "(unparseable URL)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
