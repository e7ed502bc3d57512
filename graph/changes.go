package graph

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/internal/live"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

// A change cursor is the user's id and a position in their log, 24 bytes
// in URL-safe base64: opaque to clients, and a cursor of another
// collection is told apart rather than read as a position in this one.
const changeCursorBytes = 16 + 8

func encodeChangeCursor(user uuid.UUID, pos int64) string {
	var b [changeCursorBytes]byte
	copy(b[:16], user[:])
	binary.BigEndian.PutUint64(b[16:], uint64(pos))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeChangeCursor returns the position of the user's cursor s, or
// BAD_USER_INPUT on field.
func decodeChangeCursor(user uuid.UUID, field, s string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != changeCursorBytes || int64(binary.BigEndian.Uint64(b[16:])) < 0 {
		return 0, models.Invalid(field, "is not a change cursor (from changesCursor, changes or a change)")
	}
	if !bytes.Equal(b[:16], user[:]) {
		return 0, models.Invalid(field, "is a change cursor of another collection")
	}
	return int64(binary.BigEndian.Uint64(b[16:])), nil
}

// errCursorExpired is what a client is told of store.ErrCursorExpired.
func errCursorExpired(field string) error {
	return &models.Error{Code: models.CodeCursorExpired, Field: field,
		Message: "the change log no longer reaches this cursor: refetch, then resume from a new changesCursor"}
}

func changeOf(c store.Change) *model.CollectionChange {
	return &model.CollectionChange{Cursor: encodeChangeCursor(c.UserID, c.Position),
		Kind: model.ChangeKind(c.Kind), EntityID: c.EntityID, At: c.At}
}

// maxChangesPage bounds changes(first:).
const maxChangesPage = 500

func (r *Resolver) changesCursor(ctx context.Context) (string, error) {
	user, err := userID(ctx)
	if err != nil {
		return "", err
	}
	head, ok := ctx.Value(cursorKey{}).(headRead)
	if !ok {
		head.pos, head.err = r.Store.ChangeHead(ctx, user)
	}
	if head.err != nil {
		return "", head.err
	}
	return encodeChangeCursor(user, head.pos), nil
}

type cursorKey struct{}

// headRead is the change head read before a query's fields ran.
type headRead struct {
	pos int64
	err error
}

// cursorFirst reads the change head before any field of a query that asks
// for changesCursor runs: gqlgen resolves root fields concurrently, and a
// head read after the data could be past a change the data does not show,
// which a client resuming from it would never see. Read first, and every
// change after it committed later (positions are commit order): the data
// may show some of them already (a repeat on resume), never miss one. On a
// replica too: its answer is kept only when it holds the user's position
// as the primary had it when the read began, which is at least this head.
func cursorFirst(s *store.Store) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil || oc.Operation.Operation != ast.Query {
			return next(ctx)
		}
		for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"}) {
			if f.Name != "changesCursor" {
				continue
			}
			if user, err := userID(ctx); err == nil {
				var h headRead
				h.pos, h.err = s.ChangeHead(ctx, user)
				ctx = context.WithValue(ctx, cursorKey{}, h)
			}
			break
		}
		return next(ctx)
	}
}

func (r *Resolver) changes(ctx context.Context, after string, first *int32) (*model.ChangeConnection, error) {
	user, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	pos, err := decodeChangeCursor(user, "after", after)
	if err != nil {
		return nil, err
	}
	n := 100
	if first != nil {
		if *first < 0 || *first > maxChangesPage {
			return nil, models.Invalid("first", "must be 0–%d", maxChangesPage)
		}
		n = int(*first)
	}
	// One more than asked tells whether more follow.
	rows, err := r.Store.Changes(ctx, user, pos, n+1)
	if errors.Is(err, store.ErrCursorExpired) {
		return nil, errCursorExpired("after")
	}
	if err != nil {
		return nil, err
	}
	conn := &model.ChangeConnection{EndCursor: after, HasNextPage: len(rows) > n, Nodes: []*model.CollectionChange{}}
	rows = rows[:min(len(rows), n)]
	for _, c := range rows {
		conn.Nodes = append(conn.Nodes, changeOf(c))
	}
	if len(rows) > 0 {
		conn.EndCursor = conn.Nodes[len(conn.Nodes)-1].Cursor
	}
	return conn, nil
}

// collectionChanged starts a subscription: it joins the hub, and the
// socket's transport takes its changes from there as they come (see
// operation.drain). A subscriber too slow for its queue, or the hub
// stopping, closes the socket (1013, 1001: the client reconnects and
// resumes with its last cursor); an ended subscription leaves the hub.
func (r *Resolver) collectionChanged(ctx context.Context, after *string) (<-chan *model.CollectionChange, error) {
	user, err := userID(ctx)
	if err != nil {
		return nil, err
	}
	op := operationFrom(ctx)
	if r.Live == nil || op == nil {
		return nil, models.Invalid("", "subscriptions run over graphql-transport-ws on /graphql")
	}
	pos := int64(-1)
	if after != nil {
		if pos, err = decodeChangeCursor(user, "after", *after); err != nil {
			return nil, err
		}
		// Refused up front rather than after the first message: the log
		// must still reach the cursor.
		if _, err := r.Store.Changes(ctx, user, pos, 1); errors.Is(err, store.ErrCursorExpired) {
			return nil, errCursorExpired("after")
		} else if err != nil {
			return nil, err
		}
	}
	release, err := op.sock.admit(r.Live.MaxPerConnection)
	if err != nil {
		return nil, err
	}
	sub, err := r.Live.Hub.Subscribe(ctx, user, pos, op.ready)
	if errors.Is(err, live.ErrTooMany) {
		release()
		return nil, &models.Error{Code: models.CodeTooManySubscriptions, Message: err.Error()}
	}
	if err != nil {
		release()
		return nil, err
	}
	op.sub, op.release = sub, release
	return op.changes, nil
}

// changeSet is CollectionChange.set: the set now, for SET_CHANGED.
func (r *Resolver) changeSet(ctx context.Context, c *model.CollectionChange) (*model.Set, error) {
	if c.Kind != model.ChangeKindSetChanged {
		return nil, nil
	}
	return r.setByID(ctx, c.EntityID)
}

// changeWishlistItem is CollectionChange.wishlistItem: the item now, for
// WISHLIST_ITEM_CHANGED.
func (r *Resolver) changeWishlistItem(ctx context.Context, c *model.CollectionChange) (*models.WishlistItem, error) {
	if c.Kind != model.ChangeKindWishlistItemChanged {
		return nil, nil
	}
	return r.wishlistItemByID(ctx, c.EntityID)
}

// Live is what subscriptions need; nil turns them off.
type Live struct {
	Hub *live.Hub
	// MaxPerConnection bounds the subscriptions of one socket.
	MaxPerConnection int
	// Authenticate checks connection_init's Authorization value and
	// returns ctx with its user, and when the token expires.
	Authenticate func(ctx context.Context, authorization string) (context.Context, time.Time, error)
	// Sockets tracks the open sockets, for shutdown.
	Sockets *Sockets
	// PingInterval is how often the server pings each socket (and expects
	// a pong), which also keeps proxies from closing idle ones.
	PingInterval time.Duration
}
