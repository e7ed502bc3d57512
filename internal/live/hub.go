// Package live delivers each user's change log (SPEC §11) to the
// subscriptions of this server instance: a listener hears PostgreSQL's
// notifications (sent at commit by the log's triggers, on every instance),
// a hub reads the new entries once per user and hands them to every
// subscription of that user, and each subscription first replays what its
// cursor has not seen. The log is the truth and notifications are only
// hints: a missed one (a lost listener connection) is made up by reading
// the log again, so a subscriber never sees a gap, and positions it has
// already sent are dropped, so it never sees a repeat.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/internal/store"
)

// Log is the change log the hub reads (internal/store implements it).
type Log interface {
	ChangeHead(ctx context.Context, user uuid.UUID) (int64, error)
	Changes(ctx context.Context, user uuid.UUID, after int64, limit int) ([]store.Change, error)
	ChangesFor(ctx context.Context, after map[uuid.UUID]int64, limit int) ([]store.Change, error)
}

// Limits bound what one instance holds (SPEC §11: per connection, per
// user, per instance). Per connection is the transport's (see Conn).
type Limits struct {
	// PerUser bounds one user's subscriptions on this instance (all their
	// devices and tabs).
	PerUser int
	// PerInstance bounds this instance's subscriptions in all.
	PerInstance int
	// Buffer is how many changes may wait for one subscriber; one more
	// and it is too slow: it is disconnected, to resume with its cursor.
	Buffer int
}

// DefaultLimits fit a real app: a collector's phone, tablet and a few
// browser tabs each with a couple of subscriptions, and an instance's
// share of them well within the 200 MB that 5,000 idle ones may take.
var DefaultLimits = Limits{PerUser: 50, PerInstance: 20_000, Buffer: 1_000}

// Errors a subscription can end with.
var (
	// ErrTooMany: a limit of Limits is reached.
	ErrTooMany = errors.New("too many subscriptions")
	// ErrSlow: the subscriber did not keep up with its changes.
	ErrSlow = errors.New("subscriber too slow")
	// ErrClosed: the hub has stopped (the server is shutting down).
	ErrClosed = errors.New("live updates stopped")
)

// batch is how many log entries one read takes.
const batch = 500

// Hub fans each user's changes out to that user's subscriptions here.
type Hub struct {
	log    Log
	logger *slog.Logger
	limits Limits

	mu     sync.Mutex
	feeds  map[uuid.UUID]*feed
	total  int
	dirty  map[uuid.UUID]struct{}
	closed bool
	// kick wakes the pump (capacity 1: a pending kick covers any number).
	kick chan struct{}
	// deliveries and slow count what the pump handed out, for metrics.
	deliveries, slow int64
}

// feed is one user's subscriptions and how far the hub has read their log.
type feed struct {
	user uuid.UUID
	// pos is the last position the hub has handed to subs.
	pos  int64
	subs map[*Subscription]struct{}
}

// NewHub returns a hub over log. Run its pump with Run.
func NewHub(log Log, logger *slog.Logger, limits Limits) *Hub {
	return &Hub{log: log, logger: logger, limits: limits,
		feeds: map[uuid.UUID]*feed{}, dirty: map[uuid.UUID]struct{}{}, kick: make(chan struct{}, 1)}
}

// Notify says the user's log has grown (to at least pos): the listener
// calls it for each notification.
func (h *Hub) Notify(user uuid.UUID, pos int64) {
	h.mu.Lock()
	f := h.feeds[user]
	if f != nil && pos > f.pos {
		h.dirty[user] = struct{}{}
	}
	h.mu.Unlock()
	if f != nil {
		h.wake()
	}
}

// CatchUp marks every subscribed user's log for a read: the listener calls
// it after (re)connecting, since notifications sent meanwhile were lost.
func (h *Hub) CatchUp() {
	h.mu.Lock()
	for u := range h.feeds {
		h.dirty[u] = struct{}{}
	}
	h.mu.Unlock()
	h.wake()
}

func (h *Hub) wake() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Stats are the hub's current state and totals.
type Stats struct {
	Subscriptions, Users int
	Delivered, Slow      int64
}

// Stats returns the hub's current state and totals.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Subscriptions: h.total, Users: len(h.feeds), Delivered: h.deliveries, Slow: h.slow}
}

// Run reads the log of every user with new entries and hands them out,
// until ctx ends; then every subscription ends with ErrClosed.
func (h *Hub) Run(ctx context.Context) {
	defer h.close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		if err := h.pump(ctx); err != nil && ctx.Err() == nil {
			// The entries stay marked: the next kick (or the listener's
			// catch-up after its reconnect) reads them again.
			h.logger.Warn("live updates: read the change log", "err", err)
		}
	}
}

// pump reads, in one statement, the new entries of every marked user, and
// delivers them; a user with a full batch stays marked.
func (h *Hub) pump(ctx context.Context) error {
	h.mu.Lock()
	after := make(map[uuid.UUID]int64, len(h.dirty))
	for u := range h.dirty {
		if f := h.feeds[u]; f != nil {
			after[u] = f.pos
		}
	}
	clear(h.dirty)
	h.mu.Unlock()
	if len(after) == 0 {
		return nil
	}
	changes, err := h.log.ChangesFor(ctx, after, batch)
	if err != nil {
		h.mu.Lock()
		for u := range after {
			h.dirty[u] = struct{}{}
		}
		h.mu.Unlock()
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	count := map[uuid.UUID]int{}
	for _, c := range changes {
		count[c.UserID]++
		f := h.feeds[c.UserID]
		if f == nil || c.Position <= f.pos {
			// Unsubscribed meanwhile, or handed out already.
			continue
		}
		f.pos = c.Position
		for s := range f.subs {
			if !s.offer(c) {
				h.slow++
				h.removeLocked(s)
				continue
			}
			h.deliveries++
		}
	}
	for u, n := range count {
		if n >= batch {
			h.dirty[u] = struct{}{}
		}
	}
	if len(h.dirty) > 0 {
		h.wake()
	}
	return nil
}

func (h *Hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, f := range h.feeds {
		for s := range f.subs {
			s.end(ErrClosed)
		}
	}
	clear(h.feeds)
	h.total = 0
}

// Subscribe starts a subscription to the user's changes after position
// after (the head now when after is negative). Its changes are taken with
// TryNext; ready is called whenever TryNext may have more to give (a
// change offered, the subscription ended), from the hub's goroutine and
// under its locks, so it must only schedule work, never do it. A
// subscriber needs no goroutine of its own while it waits: at 5,000 idle
// subscriptions one blocked goroutine each was most of the memory
// (bench/HISTORY.md). Close ends it.
func (h *Hub) Subscribe(ctx context.Context, user uuid.UUID, after int64, ready func()) (*Subscription, error) {
	h.mu.Lock()
	f := h.feeds[user]
	err := h.admitLocked(f)
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var head int64
	if f == nil || after < 0 {
		// Read before joining: whatever commits after this read has a
		// later position, and reaches the feed through a notification or
		// the pump's read below.
		if head, err = h.log.ChangeHead(ctx, user); err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
	}
	s := &Subscription{hub: h, user: user, ready: ready, limit: h.limits.Buffer}
	h.mu.Lock()
	if err := h.admitLocked(h.feeds[user]); err != nil {
		h.mu.Unlock()
		return nil, err
	}
	f = h.feeds[user]
	if f == nil {
		f = &feed{user: user, pos: head, subs: map[*Subscription]struct{}{}}
		h.feeds[user] = f
		h.dirty[user] = struct{}{}
		h.wake()
	}
	f.subs[s] = struct{}{}
	h.total++
	// Everything after f.pos comes through offer; what lies between the
	// cursor and f.pos the subscription reads itself.
	s.joined = f.pos
	h.mu.Unlock()
	if after < 0 {
		after = head
	}
	s.last = after
	return s, nil
}

// admitLocked says whether one more subscription fits the limits.
func (h *Hub) admitLocked(f *feed) error {
	switch {
	case h.closed:
		return ErrClosed
	case h.limits.PerInstance > 0 && h.total >= h.limits.PerInstance:
		return fmt.Errorf("%w: this server holds %d, its limit", ErrTooMany, h.limits.PerInstance)
	case f != nil && h.limits.PerUser > 0 && len(f.subs) >= h.limits.PerUser:
		return fmt.Errorf("%w: %d for one user, the limit", ErrTooMany, h.limits.PerUser)
	}
	return nil
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(s)
}

func (h *Hub) removeLocked(s *Subscription) {
	f := h.feeds[s.user]
	if f == nil {
		return
	}
	if _, ok := f.subs[s]; !ok {
		return
	}
	delete(f.subs, s)
	h.total--
	if len(f.subs) == 0 {
		delete(h.feeds, s.user)
		delete(h.dirty, s.user)
	}
}

// Subscription is one subscriber's view of its user's log.
type Subscription struct {
	hub  *Hub
	user uuid.UUID
	// joined is the feed's position when the subscription joined it:
	// entries up to it are read from the log by TryNext, later ones are
	// offered by the hub.
	joined int64
	// last is the last position TryNext returned (or the cursor).
	last int64
	// replay holds entries read from the log, not yet returned.
	replay []store.Change

	mu    sync.Mutex
	queue []store.Change
	limit int
	err   error
	ready func()
}

// offer queues c, or reports false when the subscriber already has limit
// changes waiting: it is too slow, and ends.
func (s *Subscription) offer(c store.Change) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return true
	}
	if s.limit > 0 && len(s.queue) >= s.limit {
		s.err = ErrSlow
		s.queue = nil
		s.ready()
		return false
	}
	s.queue = append(s.queue, c)
	s.ready()
	return true
}

func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		s.queue = nil
		s.ready()
	}
}

// TryNext returns the subscription's next change, if it has one now:
// first those after its cursor up to where it joined the hub, read from
// the log, then what the hub offered, each position once and in order.
// With none waiting it reports false, or the error that ended the
// subscription (ErrSlow, ErrClosed); a cursor the log no longer reaches
// is store.ErrCursorExpired. Calls must not overlap.
func (s *Subscription) TryNext(ctx context.Context) (store.Change, bool, error) {
	gapRead := false
	for {
		if len(s.replay) > 0 {
			c := s.replay[0]
			s.replay = s.replay[1:]
			if c.Position <= s.last {
				continue
			}
			s.last = c.Position
			return c, true, nil
		}
		if s.last < s.joined {
			if _, err := s.read(ctx); err != nil {
				return store.Change{}, false, err
			}
			continue
		}
		s.mu.Lock()
		if len(s.queue) == 0 {
			err := s.err
			s.mu.Unlock()
			return store.Change{}, false, err
		}
		c := s.queue[0]
		if c.Position > s.last+1 && !gapRead {
			// Never expected (the hub hands out each user's positions in
			// order, and they are dense), but a gap is read from the log
			// rather than skipped; the queue waits behind it. Should the
			// log hold nothing between, c is taken as it is.
			s.mu.Unlock()
			n, err := s.read(ctx)
			if err != nil {
				return store.Change{}, false, err
			}
			gapRead = n == 0
			continue
		}
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil // let the backing array go
		}
		s.mu.Unlock()
		if c.Position <= s.last {
			continue // replayed already
		}
		s.last = c.Position
		return c, true, nil
	}
}

// read fills replay from the log, after last, and says how many entries
// it found.
func (s *Subscription) read(ctx context.Context) (int, error) {
	changes, err := s.hub.log.Changes(ctx, s.user, s.last, batch)
	if err != nil {
		return 0, err
	}
	if len(changes) == 0 {
		// The log holds nothing past last yet (the hub joined at a
		// position the log will reach): what follows comes from the hub.
		s.joined = s.last
		return 0, nil
	}
	s.replay = changes
	return len(changes), nil
}

// Cursor is the last position TryNext returned (or the starting cursor).
func (s *Subscription) Cursor() int64 { return s.last }

// Close ends the subscription and leaves the hub.
func (s *Subscription) Close() {
	s.end(ErrClosed)
	s.hub.remove(s)
}
