package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/brickgallery/sets/graph/loader"
	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/internal/live"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// The subscription sockets speak graphql-transport-ws (the graphql-ws
// library's protocol, SPEC §11) through a transport of our own rather than
// gqlgen's: gqlgen's keeps four goroutines per socket and one per
// subscription, blocked while nothing happens, and at 5,000 idle
// subscriptions their stacks were most of the 315 MB the instance held
// (bench/HISTORY.md). Here a socket has one goroutine, its reader; writes
// run on a goroutine started when there is something to write and gone
// when there is not; a subscription is a hub entry whose changes are
// executed only once they have arrived; one ticker pings every socket.

const subprotocol = "graphql-transport-ws"

// Close codes of the subscription sockets (RFC 6455, and graphql-ws's
// 44xx, after 4401 of which its client does not reconnect by itself).
const (
	closeGoingAway       = 1001 // SIGTERM: reconnect elsewhere and resume
	closeInternal        = 1011 // a bug of ours
	closeTryAgainLater   = 1013 // too slow, or the log unreadable: resume
	closeBadMessage      = 4400
	closeUnauthorized    = 4401 // no token, a bad one, or it expired
	closeBadSubprotocol  = 4406
	closeInitTimeout     = 4408
	closeDuplicateID     = 4409
	closeTooManyInitials = 4429
)

const (
	// initTimeout bounds the wait for connection_init.
	initTimeout = 10 * time.Second
	// writeTimeout bounds one message's write: a peer that reads nothing
	// for this long is cut off rather than waited for.
	writeTimeout = 10 * time.Second
	// maxMessageBytes bounds a client's message (gqlgen's default too).
	maxMessageBytes = 1 << 20
	// maxOutbox bounds the messages waiting to be written to one socket
	// (changes wait in the hub, bounded by LIVE_QUEUE): a client that
	// sends pings but reads nothing is cut off here.
	maxOutbox = 64
	// drainBatch is how many changes one subscription writes before the
	// socket's other work gets its turn.
	drainBatch = 64
)

// Sockets keeps track of the open subscription sockets, pings them, and
// closes them all at shutdown. Its zero value is not usable; make one with
// NewSockets.
type Sockets struct {
	accept websocket.AcceptOptions

	mu      sync.Mutex
	open    map[*socket]struct{}
	closing bool
	pinging bool
	wg      sync.WaitGroup
}

// NewSockets returns a socket tracker; origins are the browser origins
// allowed besides the server's own (CORS_ALLOWED_ORIGINS, validated by
// config; "*" for any).
func NewSockets(origins []string) *Sockets {
	opts := websocket.AcceptOptions{Subprotocols: []string{subprotocol}}
	for _, o := range origins {
		if o == "*" {
			opts.InsecureSkipVerify = true
			continue
		}
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			opts.OriginPatterns = append(opts.OriginPatterns, u.Host)
		}
	}
	return &Sockets{accept: opts, open: map[*socket]struct{}{}}
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
	open := slices.Collect(maps.Keys(s.open))
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

// add registers c, and starts the pinger if it is not running.
func (s *Sockets) add(c *socket, every time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.open[c] = struct{}{}
	s.wg.Add(1)
	if !s.pinging && every > 0 {
		s.pinging = true
		go s.ping(every)
	}
	return true
}

func (s *Sockets) remove(c *socket) {
	s.mu.Lock()
	delete(s.open, c)
	s.mu.Unlock()
	s.wg.Done()
}

// ping pings every initialised socket each interval (which also keeps
// proxies from closing idle ones) and cuts off those that have sent
// nothing since the last ping; it stops when no socket is left.
func (s *Sockets) ping(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		s.mu.Lock()
		if len(s.open) == 0 || s.closing {
			s.pinging = false
			s.mu.Unlock()
			return
		}
		open := slices.Collect(maps.Keys(s.open))
		s.mu.Unlock()
		for _, c := range open {
			c.ping()
		}
	}
}

// socketTransport is graphql-transport-ws on /graphql, authenticated by
// connection_init's Authorization (a graphql.Transport).
type socketTransport struct {
	live    *Live
	store   *store.Store
	log     *slog.Logger
	present graphql.ErrorPresenterFunc
}

// Supports reports whether r asks for a WebSocket.
func (t socketTransport) Supports(r *http.Request) bool { return IsWebSocketUpgrade(r) }

// IsWebSocketUpgrade reports whether r asks to upgrade to a WebSocket.
func IsWebSocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Do accepts the socket and returns: the socket's reader goroutine carries
// on, with none of the HTTP handler's stack under it.
func (t socketTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	l := t.live
	l.Sockets.mu.Lock()
	closing := l.Sockets.closing
	l.Sockets.mu.Unlock()
	if closing {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	opts := l.Sockets.accept
	conn, err := websocket.Accept(w, r, &opts)
	if err != nil {
		return // Accept has answered, 4xx
	}
	if conn.Subprotocol() != subprotocol {
		_ = conn.Close(closeBadSubprotocol, "Subprotocol not acceptable: "+subprotocol+" only")
		return
	}
	conn.SetReadLimit(maxMessageBytes)
	// The request's context ends when this handler returns; its values
	// (request id, logger) stay.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &socket{t: t, conn: conn, exec: exec, ctx: ctx, cancel: cancel, ops: map[string]*operation{}}
	if !l.Sockets.add(c, l.PingInterval) {
		cancel()
		_ = conn.Close(closeGoingAway, "server shutting down")
		return
	}
	c.timer = time.AfterFunc(initTimeout, func() {
		c.closeWith(closeInitTimeout, "Connection initialisation timeout")
	})
	go c.read()
}

// socket is one subscription connection.
type socket struct {
	t    socketTransport
	conn *websocket.Conn
	exec graphql.GraphExecutor
	// ctx is the socket's (with its user once initialised); it ends with
	// the socket, and every operation's with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu sync.Mutex
	// timer waits for connection_init, then for the token's expiry.
	timer       *time.Timer
	initialised bool
	ops         map[string]*operation
	subs        int
	outbox      []outgoing
	writing     bool
	// closing: a close has begun (its handshake owns the connection);
	// ended: the reader has stopped, nothing more is written.
	closing, ended bool
	// unanswered: pinged, and nothing heard since.
	unanswered bool
}

// outgoing is one piece of a socket's write work: a message, or a
// subscription's waiting changes.
type outgoing struct {
	msg []byte
	op  *operation
}

// message is a graphql-transport-ws message.
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

var (
	pingMessage = []byte(`{"type":"ping"}`)
	pongMessage = []byte(`{"type":"pong"}`)
	ackMessage  = []byte(`{"type":"connection_ack"}`)
)

// read reads the client's messages until the socket ends.
func (c *socket) read() {
	defer c.finish()
	defer c.recover("socket reader")
	for {
		_, b, err := c.conn.Read(c.ctx)
		if err != nil {
			return
		}
		c.mu.Lock()
		c.unanswered = false
		c.mu.Unlock()
		var m message
		if err := json.Unmarshal(b, &m); err != nil || m.Type == "" {
			c.closeWith(closeBadMessage, "Invalid message received")
			return
		}
		var ok bool
		switch m.Type {
		case "connection_init":
			ok = c.init(m.Payload)
		case "ping":
			ok = c.send(pongMessage)
		case "pong":
			ok = true
		case "subscribe":
			ok = c.subscribe(m.ID, m.Payload)
		case "complete":
			c.stop(m.ID)
			ok = true
		default:
			c.closeWith(closeBadMessage, fmt.Sprintf("Invalid message type %q", m.Type))
		}
		if !ok {
			return
		}
	}
}

// recover turns a panic of ours into a log entry and a 1011 close.
func (c *socket) recover(where string) {
	if p := recover(); p != nil {
		c.t.log.ErrorContext(c.ctx, where+" panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		c.closeWith(closeInternal, "internal error")
	}
}

// init authenticates connection_init's Authorization and acknowledges.
func (c *socket) init(payload json.RawMessage) bool {
	c.mu.Lock()
	again := c.initialised
	c.mu.Unlock()
	if again {
		c.closeWith(closeTooManyInitials, "Too many initialisation requests")
		return false
	}
	var p map[string]any
	if len(payload) > 0 && string(payload) != "null" {
		if err := json.Unmarshal(payload, &p); err != nil {
			c.closeWith(closeBadMessage, "Invalid message received: connection_init's payload is not an object")
			return false
		}
	}
	authorization, _ := p["Authorization"].(string)
	if authorization == "" {
		authorization, _ = p["authorization"].(string)
	}
	ctx, exp, err := c.t.live.Authenticate(c.ctx, authorization)
	if err != nil {
		code := closeUnauthorized
		if models.ErrorCode(err) != models.CodeUnauthenticated {
			code = closeTryAgainLater
		}
		c.closeWith(code, errorMessage(err))
		return false
	}
	c.mu.Lock()
	c.ctx = ctx
	c.initialised = true
	c.timer.Stop()
	c.timer = time.AfterFunc(time.Until(exp), func() {
		c.closeWith(closeUnauthorized, "token expired")
	})
	c.mu.Unlock()
	return c.send(ackMessage)
}

// subscribe starts operation id: a subscription joins the hub and waits
// there with no goroutine; a query or mutation runs once.
func (c *socket) subscribe(id string, payload json.RawMessage) bool {
	start := graphql.Now()
	c.mu.Lock()
	initialised, ctx := c.initialised, c.ctx
	_, dup := c.ops[id]
	c.mu.Unlock()
	var params graphql.RawParams
	switch {
	case !initialised:
		c.closeWith(closeUnauthorized, "Unauthorized")
		return false
	case id == "":
		c.closeWith(closeBadMessage, "Invalid message received: subscribe without an id")
		return false
	case dup:
		c.closeWith(closeDuplicateID, "Subscriber for "+id+" already exists")
		return false
	case json.Unmarshal(payload, &params) != nil:
		c.closeWith(closeBadMessage, "Invalid message received: subscribe's payload is not a GraphQL request")
		return false
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	ctx = graphql.StartOperationTrace(ctx)
	rc, errs := c.exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		return c.sendError(id, resp.Errors)
	}
	op := &operation{sock: c, id: id, changes: make(chan *model.CollectionChange, 1)}
	op.ctx, op.cancel = context.WithCancel(context.WithValue(ctx, operationKey{}, op))
	c.mu.Lock()
	c.ops[id] = op
	c.mu.Unlock()
	responses, octx := c.exec.DispatchOperation(op.ctx, rc)
	if rc.Operation.Operation != ast.Subscription || op.sub == nil {
		// A query, a mutation, or a subscription refused (its errors are
		// the one response): answered once, off the reader.
		go func() {
			defer c.recover("socket operation")
			if resp := responses(octx); resp != nil {
				c.sendResponse(id, resp)
			}
			c.complete(op, true)
		}()
		return true
	}
	op.responses = responses
	op.ctx = octx
	c.mu.Lock()
	op.started = true
	c.mu.Unlock()
	op.ready() // the replay, or whatever has come meanwhile
	return true
}

// stop ends operation id at the client's request.
func (c *socket) stop(id string) {
	c.mu.Lock()
	op := c.ops[id]
	c.mu.Unlock()
	if op != nil {
		c.complete(op, false)
	}
}

// complete ends op, telling the client when tell (not when it asked).
func (c *socket) complete(op *operation, tell bool) {
	c.mu.Lock()
	if op.done {
		c.mu.Unlock()
		return
	}
	op.done = true
	delete(c.ops, op.id)
	c.mu.Unlock()
	op.cancel()
	if op.sub != nil {
		op.sub.Close()
		op.release()
	}
	if tell {
		c.send(completeMessage(op.id))
	}
}

func completeMessage(id string) []byte {
	b, _ := json.Marshal(message{ID: id, Type: "complete"})
	return b
}

// nextMessage is the next message carrying resp for operation id.
func nextMessage(id string, resp *graphql.Response) ([]byte, error) {
	b, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("encode a response: %w", err)
	}
	return json.Marshal(message{ID: id, Type: "next", Payload: b})
}

// sendResponse queues a next message.
func (c *socket) sendResponse(id string, resp *graphql.Response) bool {
	m, err := nextMessage(id, resp)
	if err != nil {
		c.t.log.ErrorContext(c.ctx, "subscription socket", "err", err)
		c.closeWith(closeInternal, "internal error")
		return false
	}
	return c.send(m)
}

// sendError queues an error message, which ends operation id.
func (c *socket) sendError(id string, errs gqlerror.List) bool {
	b, _ := json.Marshal(errs)
	m, _ := json.Marshal(message{ID: id, Type: "error", Payload: b})
	return c.send(m)
}

// send queues msg; false when the socket is gone or its client reads too
// little.
func (c *socket) send(msg []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queueLocked(outgoing{msg: msg})
}

func (c *socket) queueLocked(o outgoing) bool {
	if c.ended || c.closing {
		return false
	}
	if len(c.outbox) >= maxOutbox {
		c.cutLocked()
		return false
	}
	c.outbox = append(c.outbox, o)
	if !c.writing {
		c.writing = true
		go c.write()
	}
	return true
}

// write does the socket's write work until there is none.
func (c *socket) write() {
	defer c.recover("socket writer")
	for {
		c.mu.Lock()
		if len(c.outbox) == 0 || c.ended {
			c.writing = false
			c.outbox = nil
			c.mu.Unlock()
			return
		}
		o := c.outbox[0]
		c.outbox[0] = outgoing{}
		c.outbox = c.outbox[1:]
		c.mu.Unlock()
		if o.op != nil {
			o.op.drain()
			continue
		}
		if err := c.writeNow(o.msg); err != nil {
			c.cut()
		}
	}
}

func (c *socket) writeNow(msg []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, msg)
}

// ping is the pinger's turn at c: an initialised socket that has sent
// nothing since the last ping is cut off, the others pinged.
func (c *socket) ping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.initialised || c.closing || c.ended:
	case c.unanswered:
		c.cutLocked()
	default:
		c.unanswered = true
		c.queueLocked(outgoing{msg: pingMessage})
	}
}

// cut drops the connection without a close handshake: its client reads
// too little, or is gone.
func (c *socket) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cutLocked()
}

func (c *socket) cutLocked() {
	c.closing = true
	go c.conn.CloseNow()
}

// closeWith closes the socket with code (in the background: the close
// handshake waits for the client).
func (c *socket) closeWith(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.ended {
		return
	}
	c.closing = true
	go c.conn.Close(websocket.StatusCode(code), reason)
}

// finish ends the socket once its reader has stopped.
func (c *socket) finish() {
	c.mu.Lock()
	c.ended = true
	c.timer.Stop()
	ops := slices.Collect(maps.Values(c.ops))
	closing := c.closing
	c.mu.Unlock()
	for _, op := range ops {
		c.complete(op, false)
	}
	c.cancel()
	if !closing {
		c.conn.CloseNow()
	}
	c.t.live.Sockets.remove(c)
}

// admit counts one more subscription on the socket, up to max.
func (c *socket) admit(max int) (release func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if max > 0 && c.subs >= max {
		return nil, &models.Error{Code: models.CodeTooManySubscriptions,
			Message: fmt.Sprintf("%d subscriptions on one connection, the limit", max)}
	}
	c.subs++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.subs--
			c.mu.Unlock()
		})
	}, nil
}

type operationKey struct{}

// operation is one subscribe of a socket.
type operation struct {
	sock   *socket
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	// changes is the stream the resolver returns: the drain puts one
	// change in, and gqlgen's response handler takes it out at once.
	changes   chan *model.CollectionChange
	responses graphql.ResponseHandler
	// sub and release are set by the resolver (collectionChanged).
	sub     *live.Subscription
	release func()

	// Guarded by sock.mu: started once the resolver has returned, queued
	// while a drain waits in the outbox, done once ended.
	started, queued, done bool
}

func operationFrom(ctx context.Context) *operation {
	op, _ := ctx.Value(operationKey{}).(*operation)
	return op
}

// ready queues a drain of op's changes (the hub calls it, under its
// locks: it only queues).
func (op *operation) ready() {
	c := op.sock
	c.mu.Lock()
	defer c.mu.Unlock()
	if !op.started || op.queued || op.done {
		return
	}
	op.queued = true
	c.queueLocked(outgoing{op: op})
}

// drain writes op's waiting changes, each executed as a response of its
// subscription; it runs on the socket's writer.
func (op *operation) drain() {
	c := op.sock
	c.mu.Lock()
	op.queued = false
	done := op.done
	c.mu.Unlock()
	if done {
		return
	}
	for range drainBatch {
		ch, ok, err := op.sub.TryNext(op.ctx)
		if err != nil {
			op.fail(err)
			return
		}
		if !ok {
			return
		}
		select {
		case op.changes <- changeOf(ch):
		default:
			return // never left full: responses took the last one
		}
		resp := op.responses(op.ctx)
		if resp == nil {
			return // ended meanwhile
		}
		m, err := nextMessage(op.id, resp)
		if err != nil {
			op.fail(err)
			return
		}
		if err := c.writeNow(m); err != nil {
			c.cut()
			return
		}
	}
	op.ready() // more may wait: after the socket's other work
}

// fail ends op on its subscription's error.
func (op *operation) fail(err error) {
	c := op.sock
	switch {
	case op.ctx.Err() != nil:
	case errors.Is(err, live.ErrSlow):
		c.closeWith(closeTryAgainLater, "too slow to read its changes: resume with the last cursor")
	case errors.Is(err, live.ErrClosed):
		c.closeWith(closeGoingAway, "server shutting down: resume with the last cursor")
	case errors.Is(err, store.ErrCursorExpired):
		c.sendError(op.id, gqlerror.List{c.t.present(op.ctx, errCursorExpired("after"))})
		c.complete(op, false)
	default:
		c.t.log.WarnContext(op.ctx, "live updates: subscription ended", "err", err)
		c.closeWith(closeTryAgainLater, "changes could not be read: resume with the last cursor")
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

// freshLoaders gives each response on a socket dataloaders of its own:
// the socket lives for hours, and loaders made once would serve every
// change the images cached at the first.
func freshLoaders(s *store.Store) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if operationFrom(ctx) != nil {
			ctx = loader.With(ctx, loader.New(s))
		}
		return next(ctx)
	}
}
