package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/brickgallery/sets/graph/loader"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// Close codes of the subscription sockets (RFC 6455, and graphql-ws's 4401,
// after which its client does not reconnect by itself).
const (
	closeGoingAway     = 1001 // SIGTERM: reconnect elsewhere and resume
	closeTryAgainLater = 1013 // too slow, or the log unreadable: resume
	closeUnauthorized  = 4401 // no token, a bad one, or it expired
)

// Sockets accepts the subscription sockets (gqlgen's transport asks it to)
// and keeps track of them, so that each can be closed with a code of ours:
// gqlgen itself closes with 1000 whatever the reason. Its zero value is
// not usable; make one with NewSockets.
type Sockets struct {
	accept transport.CoderWebsocketImplementation

	mu      sync.Mutex
	open    map[*socket]struct{}
	closing bool
	wg      sync.WaitGroup
}

// NewSockets returns a socket tracker; origins are the browser origins
// allowed besides the server's own (CORS_ALLOWED_ORIGINS; "*" for any).
func NewSockets(origins []string) *Sockets {
	opts := websocket.AcceptOptions{}
	for _, o := range origins {
		if o == "*" {
			opts.InsecureSkipVerify = true
			continue
		}
		opts.OriginPatterns = append(opts.OriginPatterns, hostOf(o))
	}
	return &Sockets{accept: transport.CoderWebsocketImplementation{AcceptOptions: opts}, open: map[*socket]struct{}{}}
}

// hostOf is the host[:port] of an origin such as https://app.example.com.
func hostOf(origin string) string {
	for _, p := range []string{"https://", "http://"} {
		if len(origin) > len(p) && origin[:len(p)] == p {
			origin = origin[len(p):]
		}
	}
	if n := len(origin); n > 0 && origin[n-1] == '/' {
		origin = origin[:n-1]
	}
	return origin
}

type socketKey struct{}

// Middleware readies a WebSocket upgrade request for Accept: the socket it
// makes is then found in the request's context by the init function and
// the resolvers.
func (s *Sockets) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slot := &socket{sockets: s}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), socketKey{}, slot)))
	})
}

// Accept implements transport.WebsocketImplementation.
func (s *Sockets) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	slot, _ := r.Context().Value(socketKey{}).(*socket)
	if slot == nil {
		return nil, errors.New("socket request without Sockets.Middleware")
	}
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return nil, errors.New("shutting down")
	}
	conn, err := s.accept.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	slot.WebsocketConn = conn
	s.mu.Lock()
	s.open[slot] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	return slot, nil
}

// Open returns how many sockets are open.
func (s *Sockets) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// Shutdown closes every socket with 1001 (going away) and waits, until ctx
// ends, for them to be gone; no socket is accepted afterwards.
func (s *Sockets) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	open := make([]*socket, 0, len(s.open))
	for c := range s.open {
		open = append(open, c)
	}
	s.mu.Unlock()
	for _, c := range open {
		c.closeWith(closeGoingAway, "server shutting down: reconnect and resume with the last cursor")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close subscription sockets: %w", ctx.Err())
	}
}

// socket is one subscription connection.
type socket struct {
	transport.WebsocketConn
	sockets *Sockets

	mu     sync.Mutex
	subs   int
	expiry *time.Timer
	closed bool
}

func socketFrom(ctx context.Context) *socket {
	s, _ := ctx.Value(socketKey{}).(*socket)
	if s == nil || s.WebsocketConn == nil {
		return nil
	}
	return s
}

// admit counts one more subscription on the socket, up to max.
func (s *socket) admit(max int) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max > 0 && s.subs >= max {
		return nil, &models.Error{Code: models.CodeTooManySubscriptions,
			Message: fmt.Sprintf("%d subscriptions on one connection, the limit", max)}
	}
	s.subs++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.subs--
			s.mu.Unlock()
		})
	}, nil
}

// closeWith closes the socket with code; gqlgen's own close that follows
// (with 1000) finds the close handshake begun, and sends nothing.
func (s *socket) closeWith(code int, reason string) {
	_ = s.WebsocketConn.WriteClose(code, reason)
}

// expireAt closes the socket with 4401 when the token expires.
func (s *socket) expireAt(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.expiry = time.AfterFunc(time.Until(t), func() {
		s.closeWith(closeUnauthorized, "token expired")
	})
}

// Close implements transport.WebsocketConn: the socket leaves the tracker.
func (s *socket) Close() error {
	s.mu.Lock()
	if s.expiry != nil {
		s.expiry.Stop()
	}
	first := !s.closed
	s.closed = true
	s.mu.Unlock()
	err := s.WebsocketConn.Close()
	if first {
		s.sockets.mu.Lock()
		delete(s.sockets.open, s)
		s.sockets.mu.Unlock()
		s.sockets.wg.Done()
	}
	return err
}

// SetReadLimit passes gqlgen's message size limit on.
func (s *socket) SetReadLimit(limit int64) {
	if l, ok := s.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline passes gqlgen's pong deadline on.
func (s *socket) SetReadDeadline(t time.Time) error {
	if d, ok := s.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// initTimeout bounds the wait for connection_init.
const initTimeout = 10 * time.Second

// websocketTransport is graphql-transport-ws (and the older graphql-ws) on
// /graphql, authenticated by connection_init's Authorization.
func websocketTransport(l *Live) transport.Websocket {
	return transport.Websocket{
		Implementation: l.Sockets,
		InitTimeout:    initTimeout,
		InitFunc: func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			sock := socketFrom(ctx)
			if sock == nil {
				return ctx, nil, errors.New("no socket")
			}
			authed, exp, err := l.Authenticate(ctx, payload.Authorization())
			if err != nil {
				code := closeUnauthorized
				if models.ErrorCode(err) != models.CodeUnauthenticated {
					code = closeTryAgainLater
				}
				ctx = transport.WithWebsocketCloseCode(ctx, code)
				ctx = transport.AppendCloseReason(ctx, errorMessage(err))
				return ctx, nil, errors.New(errorMessage(err))
			}
			sock.expireAt(exp)
			return authed, nil, nil
		},
		PingPongInterval:      l.PingInterval,
		KeepAlivePingInterval: l.PingInterval,
	}
}

// errorMessage is what a client may be told of err.
func errorMessage(err error) string {
	var e *models.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// freshLoaders gives each response of a subscription dataloaders of its
// own: the socket's context lives for hours, and loaders made with it
// would serve every change the images cached at the first.
func freshLoaders(s *store.Store) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if graphql.HasOperationContext(ctx) {
			if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Subscription {
				ctx = loader.With(ctx, loader.New(s))
			}
		}
		return next(ctx)
	}
}
