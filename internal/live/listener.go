package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/brickgallery/sets/internal/postgres"
)

// Channel is the notification channel of the change log's triggers
// (migration 20261207000400): each payload is "<user id> <position>".
const Channel = "sets_changes"

// ApplicationName marks the listener's connection in pg_stat_activity.
const ApplicationName = "sets-live-listener"

// probeEvery is how long the listener waits for a notification before it
// checks that its connection still answers: a connection lost without a
// word (a cable, a firewall's idle timeout) is found within this.
const probeEvery = 10 * time.Second

// Listen holds a connection to dsn (DATABASE_DIRECT_URL: LISTEN needs a
// session of its own, which a transaction-pooling PgBouncer does not keep)
// that LISTENs on Channel, and tells hub of every notification, until ctx
// ends. Whenever it (re)connects it has the hub read every subscribed
// user's log, since notifications sent while it was away are lost.
// onConnect, if set, hears each (re)connection (tests wait on it).
func Listen(ctx context.Context, dsn string, hub *Hub, log *slog.Logger, onConnect func()) error {
	cfg, err := postgres.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = ApplicationName
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := listenOnce(ctx, cfg, hub, onConnect)
		if ctx.Err() != nil {
			break
		}
		log.Warn("live updates: listener connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff + rand.N(backoff/2)):
		}
		backoff = min(backoff*2, 2*time.Second)
		if errors.Is(err, errListening) {
			// It was up for a while: start the back-off over.
			backoff = 50 * time.Millisecond
		}
	}
	return nil
}

// errListening wraps the error that ended a connection that had been
// listening.
var errListening = errors.New("was listening")

func listenOnce(ctx context.Context, cfg *pgx.ConnConfig, hub *Hub, onConnect func()) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Listening from here on: what committed before is in the log.
	hub.CatchUp()
	if onConnect != nil {
		onConnect()
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, probeEvery)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			user, pos, ok := parsePayload(n.Payload)
			if ok {
				hub.Notify(user, pos)
			}
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("%w: probe: %w", errListening, err)
			}
		default:
			return fmt.Errorf("%w: %w", errListening, err)
		}
	}
}

func parsePayload(p string) (uuid.UUID, int64, bool) {
	u, n, ok := strings.Cut(p, " ")
	if !ok {
		return uuid.Nil, 0, false
	}
	user, err := uuid.Parse(u)
	if err != nil {
		return uuid.Nil, 0, false
	}
	pos, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return uuid.Nil, 0, false
	}
	return user, pos, true
}
