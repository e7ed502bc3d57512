package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// migrationLockKey identifies the advisory lock that serialises migration
// runs. Advisory locks are scoped to one database, so runs against different
// databases never wait for each other.
const migrationLockKey int64 = 0x5e75_6d69_6772 // "sets migr"

// lockPollInterval is how often a waiting migrator retries the lock. Waiting
// with a blocking pg_advisory_lock would deadlock against CREATE INDEX
// CONCURRENTLY, which waits for every open transaction, including a session
// blocked on the lock.
const lockPollInterval = 200 * time.Millisecond

// Migrator applies and rolls back the embedded migrations. Bun's own lock (a
// row in a table) is not used: a killed process would leave it behind. A
// session-level advisory lock on a dedicated connection dies with the session.
type Migrator struct {
	db         *bun.DB
	migrations *migrate.Migrations
	bun        *migrate.Migrator
	log        *slog.Logger
}

// MigrationStatus is one migration and whether it has been applied.
type MigrationStatus struct {
	Name    string
	Applied bool
}

// NewMigrator returns a migrator for ms over db. Migrations are recorded as
// applied only once they succeed, so a failed one runs again next time.
func NewMigrator(db *bun.DB, ms *migrate.Migrations, log *slog.Logger) *Migrator {
	return &Migrator{
		db:         db,
		migrations: ms,
		bun:        migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true)),
		log:        log,
	}
}

// Migrate applies every pending migration and returns the names it applied.
// The error names the migration that failed.
func (m *Migrator) Migrate(ctx context.Context) ([]string, error) {
	var applied []string
	err := m.withLock(ctx, func(ctx context.Context) error {
		group, err := m.bun.Migrate(ctx)
		if group != nil {
			applied = appliedNames(group, err)
		}
		if err != nil {
			return fmt.Errorf("migrate: %w", nameFailed(m.migrations, err))
		}
		return nil
	})
	return applied, err
}

// Rollback rolls back the last applied group and returns the names it rolled
// back, newest first; none when nothing is applied.
func (m *Migrator) Rollback(ctx context.Context) ([]string, error) {
	var rolledBack []string
	err := m.withLock(ctx, func(ctx context.Context) error {
		group, err := m.bun.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("rollback: %w", nameFailed(m.migrations, err))
		}
		for i := len(group.Migrations) - 1; i >= 0; i-- {
			rolledBack = append(rolledBack, label(&group.Migrations[i]))
		}
		return nil
	})
	return rolledBack, err
}

// Status lists every known migration in order with whether it is applied.
// It takes no lock and writes nothing, so it is cheap enough for /readyz.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	var exists bool
	err := m.db.NewRaw("SELECT to_regclass('bun_migrations') IS NOT NULL").Scan(ctx, &exists)
	if err != nil {
		return nil, fmt.Errorf("look up migrations table: %w", err)
	}
	ms := m.migrations.Sorted()
	if exists {
		if ms, err = m.bun.MigrationsWithStatus(ctx); err != nil {
			return nil, fmt.Errorf("read applied migrations: %w", err)
		}
	}
	st := make([]MigrationStatus, len(ms))
	for i, mg := range ms {
		st[i] = MigrationStatus{Name: label(&mg), Applied: mg.IsApplied()}
	}
	return st, nil
}

// Pending counts the migrations not yet applied.
func (m *Migrator) Pending(ctx context.Context) (int, error) {
	st, err := m.Status(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range st {
		if !s.Applied {
			n++
		}
	}
	return n, nil
}

// withLock runs fn while holding the migration advisory lock on a connection
// of its own, after making sure Bun's bookkeeping tables exist (creating them
// outside the lock races between processes).
func (m *Migrator) withLock(ctx context.Context, fn func(context.Context) error) error {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open migration lock connection: %w", err)
	}
	defer conn.Close()

	if err := acquire(ctx, conn, m.log); err != nil {
		return err
	}
	defer func() {
		// The lock dies with the session anyway; unlocking keeps the pooled
		// connection reusable. Use a fresh context: ctx may be cancelled.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, "SELECT pg_advisory_unlock(?)", migrationLockKey); err != nil {
			m.log.Warn("release migration lock", "err", err)
		}
	}()

	if err := m.bun.Init(ctx); err != nil {
		return fmt.Errorf("create migration tables: %w", err)
	}
	return fn(ctx)
}

func acquire(ctx context.Context, conn bun.Conn, log *slog.Logger) error {
	waiting := false
	for {
		var ok bool
		err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock(?)", migrationLockKey).Scan(&ok)
		if err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if ok {
			if waiting {
				log.Info("migration lock acquired")
			}
			return nil
		}
		if !waiting {
			log.Info("another process is migrating this database; waiting for its lock")
			waiting = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for migration lock: %w", ctx.Err())
		case <-time.After(lockPollInterval):
		}
	}
}

// appliedNames lists the migrations of group that actually ran: on failure
// the group's last entry is the one that failed.
func appliedNames(group *migrate.MigrationGroup, err error) []string {
	ms := group.Migrations
	if err != nil && len(ms) > 0 {
		ms = ms[:len(ms)-1]
	}
	names := make([]string, 0, len(ms))
	for i := range ms {
		names = append(names, label(&ms[i]))
	}
	return names
}

// nameFailed puts the full name of the migration that failed in front of
// err. Bun names a failed migration by its timestamp alone ("20261125000300:
// up: ..."), while `db status` and the files say "20261125000300_create_set_images".
func nameFailed(ms *migrate.Migrations, err error) error {
	for _, mg := range ms.Sorted() {
		if strings.HasPrefix(err.Error(), mg.Name+": ") {
			return fmt.Errorf("migration %s failed: %w", label(&mg), err)
		}
	}
	return err
}

// label is a migration's file name without its suffix, such as
// "20261125000100_create_users": Bun keeps the timestamp as the name and
// the rest as a comment.
func label(mg *migrate.Migration) string {
	if mg.Comment == "" {
		return mg.Name
	}
	return mg.Name + "_" + mg.Comment
}
