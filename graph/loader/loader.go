// Package loader holds the request-scoped dataloaders: every Set.images of
// one request is answered by one SQL statement per batch, and so is every
// Set.wishlistItem of a list of sets.
package loader

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// wait is how long a batch collects keys before it runs. Resolvers that
// return sets either read their images with them (sets writes them from
// its page; set primes them here: PrimeImages) or queue their ids up front
// (the mutations: PrefetchImages), so a page costs one statement however
// its sets are written out; the wait only has to gather loads that arrive
// together without either, and every microsecond of it is latency.
const wait = 100 * time.Microsecond

// Loaders are one request's dataloaders.
type Loaders struct {
	images *dataloadgen.Loader[uuid.UUID, []*models.SetImage]
	fetch  func(context.Context, []uuid.UUID) ([][]*models.SetImage, []error)

	// prefetched holds the images of sets queued by PrefetchImages, each
	// waiting on the one statement that loads them all. They bypass the
	// dataloader: it adds keys to a batch one lock at a time while the
	// batch's timer runs, so a goroutine preempted for longer than the wait
	// (a loaded machine) split a page's images into several statements.
	mu         sync.Mutex
	prefetched map[uuid.UUID]func() ([]*models.SetImage, error)

	wishlist *wishlistItems
}

// New returns fresh loaders over s; make one per request, so nothing cached
// outlives the request or leaks to another user.
func New(s *store.Store) *Loaders {
	fetch := func(ctx context.Context, ids []uuid.UUID) ([][]*models.SetImage, []error) {
		bySet, err := s.ImagesBySet(ctx, ids)
		if err != nil {
			return nil, []error{err}
		}
		// Results must line up with ids, not come in database order.
		out := make([][]*models.SetImage, len(ids))
		for i, id := range ids {
			if out[i] = bySet[id]; out[i] == nil {
				out[i] = []*models.SetImage{}
			}
		}
		return out, nil
	}
	return &Loaders{
		images:     dataloadgen.NewLoader(fetch, dataloadgen.WithWait(wait)),
		fetch:      fetch,
		prefetched: map[uuid.UUID]func() ([]*models.SetImage, error){},
		wishlist:   newWishlistItems(s),
	}
}

type ctxKey struct{}

// Middleware puts fresh loaders into every request's context.
func Middleware(s *store.Store, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), ctxKey{}, New(s))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// With returns ctx carrying l, for callers outside HTTP (tests, benchmarks).
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

func from(ctx context.Context) *Loaders {
	l, _ := ctx.Value(ctxKey{}).(*Loaders)
	if l == nil {
		panic("loader: no loaders in context; wrap the handler with loader.Middleware")
	}
	return l
}

// Images returns the images of the set setID, in display order. Loading
// does not check ownership (resolvers prefetch a set's images while its own
// user-scoped query runs): callers write images out only for sets that
// query returned.
func Images(ctx context.Context, setID uuid.UUID) ([]*models.SetImage, error) {
	l := from(ctx)
	l.mu.Lock()
	images, ok := l.prefetched[setID]
	l.mu.Unlock()
	if ok {
		return images()
	}
	return l.images.Load(ctx, setID)
}

// PrimeImages records images as the set's images for this request, for a
// caller that just wrote them.
func PrimeImages(ctx context.Context, setID uuid.UUID, images []*models.SetImage) {
	l := from(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prefetched[setID] = func() ([]*models.SetImage, error) { return images, nil }
}

// PrefetchImages starts loading the images of every set in ids (but those
// already queued) in one statement, so that a page's images cost one
// statement however the scheduler spreads the per-set loads in time. It
// does not wait for the statement.
func PrefetchImages(ctx context.Context, ids []uuid.UUID) {
	l := from(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	todo := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if _, ok := l.prefetched[id]; !ok {
			todo = append(todo, id)
		}
	}
	if len(todo) == 0 {
		return
	}
	done := make(chan struct{})
	var (
		images [][]*models.SetImage
		errs   []error
	)
	go func() {
		defer close(done)
		images, errs = l.fetch(ctx, todo)
	}()
	for i, id := range todo {
		l.prefetched[id] = func() ([]*models.SetImage, error) {
			<-done
			if len(errs) > 0 {
				return nil, errs[0]
			}
			return images[i], nil
		}
	}
}
