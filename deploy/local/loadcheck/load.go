package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sample is one request of the load: when it ran and how it ended.
type sample struct {
	write      bool
	start, end time.Time
	err        error
}

// recorder collects the samples of every worker.
type recorder struct {
	mu      sync.Mutex
	samples []sample
}

func (r *recorder) add(s sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

// timed runs fn and records it, unless it failed because ctx, the load's
// own lifetime, ended: a request cut short by the end of the load did not
// fail.
func (r *recorder) timed(ctx context.Context, write bool, fn func() error) error {
	start := time.Now()
	err := fn()
	if err == nil || ctx.Err() == nil {
		r.add(sample{write: write, start: start, end: time.Now(), err: err})
	}
	return err
}

// ledger is one writer's record of what the API acknowledged: every set
// it created, and for each set the sequence number of the last
// acknowledged title. A write that failed may or may not have happened;
// only acknowledged ones are owed.
type ledger struct {
	created []string
	acked   map[string]int // set id → the last acknowledged title's number
	// writes counts the acknowledged writes.
	writes int
	// staleReads counts read-backs, right after an acknowledged write,
	// that did not show it (read your writes broken).
	staleReads int
}

// writerTitle is the title a writer gives its seq-th write; the number is
// read back from the database to tell which write it holds.
func writerTitle(writer, seq int) string { return fmt.Sprintf("w%d-%06d", writer, seq) }

func titleSeq(title string) (int, bool) {
	_, n, ok := strings.Cut(title, "-")
	if !ok {
		return 0, false
	}
	seq, err := strconv.Atoi(n)
	return seq, err == nil
}

// writer creates a set, then updates its sets in turn (a new set every
// fifth write), reading each acknowledged write back on the next request,
// until ctx ends.
func (c *client) writer(ctx context.Context, id int, rec *recorder) (*ledger, error) {
	u, err := c.newUser()
	if err != nil {
		return nil, err
	}
	l := &ledger{acked: map[string]int{}}
	for seq := 1; ctx.Err() == nil; seq++ {
		title := writerTitle(id, seq)
		var set string
		var err error
		if len(u.sets) == 0 || seq%5 == 0 {
			err = rec.timed(ctx, true, func() error {
				set, err = c.createSet(ctx, u, map[string]any{"title": title, "theme": themes[seq%len(themes)]})
				return err
			})
			if err == nil {
				u.sets = append(u.sets, set)
				l.created = append(l.created, set)
			}
		} else {
			set = u.sets[seq%len(u.sets)]
			err = rec.timed(ctx, true, func() error {
				return c.post(ctx, u, `mutation($id: UUID!, $t: String!) { updateSet(id: $id, input: {title: $t}) { id } }`,
					map[string]any{"id": set, "t": title}, nil)
			})
		}
		if err != nil {
			if ctx.Err() == nil {
				pause(ctx)
			}
			continue
		}
		l.acked[set] = seq
		l.writes++
		c.readBack(ctx, u, set, seq, rec, l)
	}
	return l, nil
}

// readBack reads the set just written, as its writer, and counts a stale
// answer: the balancer sends it to another instance, which reads from the
// replica.
func (c *client) readBack(ctx context.Context, u *user, set string, seq int, rec *recorder, l *ledger) {
	var d struct {
		Set *struct{ Title string }
	}
	err := rec.timed(ctx, false, func() error {
		return c.post(ctx, u, `query($id: UUID!) { set(id: $id) { title } }`, map[string]any{"id": set}, &d)
	})
	if err != nil {
		return
	}
	if d.Set == nil {
		l.staleReads++
		return
	}
	if got, ok := titleSeq(d.Set.Title); !ok || got < seq {
		l.staleReads++
	}
}

// reader runs random reads until ctx ends.
func (c *client) reader(ctx context.Context, users []*user, rec *recorder) {
	for ctx.Err() == nil {
		if err := rec.timed(ctx, false, func() error { return c.randomRead(ctx, users) }); err != nil && ctx.Err() == nil {
			pause(ctx)
		}
	}
}

// pause after a failure keeps a closed-loop worker from spinning on an
// answer that comes back at once (a refused connection), which would
// count the same outage thousands of times.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Millisecond):
	}
}

// runLoad runs o's readers and writers until ctx ends and returns what
// they recorded and the writers' ledgers.
func (c *client) runLoad(ctx context.Context, o options, users []*user) ([]sample, []*ledger, error) {
	rec := &recorder{}
	var wg sync.WaitGroup
	for range o.readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.reader(ctx, users, rec)
		}()
	}
	ledgers := make([]*ledger, o.writers)
	errs := make([]error, o.writers)
	for i := range o.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ledgers[i], errs[i] = c.writer(ctx, i, rec)
		}()
	}
	wg.Wait()
	return rec.samples, ledgers, errors.Join(errs...)
}
