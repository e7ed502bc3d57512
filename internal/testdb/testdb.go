// Package testdb gives each test a real, throwaway PostgreSQL database.
//
// Databases are cloned from a template that is migrated once (per set of
// migration files, shared across packages and runs) by peterldowns/pgtestdb,
// so a fresh database costs a CREATE DATABASE ... TEMPLATE, not a migration.
// The server comes from TEST_DATABASE_URL, by default the local one. A
// database is dropped when its test passes and kept for inspection when it
// fails (pgtestdb logs its URL).
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver pgtestdb opens
	"github.com/peterldowns/pgtestdb"
	"github.com/peterldowns/pgtestdb/migrators/common"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/migrations"
)

// DefaultURL is the server used when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// New returns a handle on a fresh database with every migration applied,
// configured like the server's own pool. It is closed, and the database
// dropped, when tb ends.
func New(tb testing.TB) *bun.DB {
	tb.Helper()
	return Open(tb, URL(tb))
}

// URL returns the connection URL of a fresh, migrated database.
func URL(tb testing.TB) string {
	tb.Helper()
	return pgtestdb.Custom(tb, serverConfig(tb), Migrator{}).URL()
}

// EmptyURL returns the connection URL of a fresh database with no tables at
// all, for tests of the migrations themselves.
func EmptyURL(tb testing.TB) string {
	tb.Helper()
	return pgtestdb.Custom(tb, serverConfig(tb), pgtestdb.NoopMigrator{}).URL()
}

// Open connects to url the way the server does and closes the handle when tb
// ends (before the database is dropped).
func Open(tb testing.TB, url string) *bun.DB {
	tb.Helper()
	return OpenConfig(tb, url, postgres.PoolConfig{MaxConns: 8})
}

// OpenConfig is Open with the pool configured by cfg (a tracer, say).
func OpenConfig(tb testing.TB, url string, cfg postgres.PoolConfig) *bun.DB {
	tb.Helper()
	db, err := postgres.Open(url, cfg)
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var (
	reachOnce sync.Once
	reachErr  error
)

// serverConfig describes the server from TEST_DATABASE_URL and fails the
// test, saying how to start PostgreSQL, when it does not answer. A test
// suite that skipped here would pass having tested nothing.
func serverConfig(tb testing.TB) pgtestdb.Config {
	tb.Helper()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		url = DefaultURL
	}
	cfg, err := postgres.ParseConfig(url)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	reachOnce.Do(func() {
		db, err := sql.Open("pgx", url)
		if err != nil {
			reachErr = err
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		reachErr = db.PingContext(ctx)
	})
	if reachErr != nil {
		tb.Fatalf("PostgreSQL is not reachable at %s:%d as %q: %v\n"+
			"Start it (on Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start),\n"+
			"or point TEST_DATABASE_URL at a server where that user may create databases and roles.",
			cfg.Host, cfg.Port, cfg.User, reachErr)
	}
	return pgtestdb.Config{
		DriverName:                "pgx",
		Host:                      cfg.Host,
		Port:                      strconv.Itoa(int(cfg.Port)),
		User:                      cfg.User,
		Password:                  cfg.Password,
		Database:                  cfg.Database,
		Options:                   "sslmode=disable",
		ForceTerminateConnections: true,
	}
}

// Migrator builds pgtestdb's template with the application's own migration
// code, so every test database went through the path production takes.
type Migrator struct{}

// Hash identifies the migration files: a template is rebuilt only when they
// change.
func (Migrator) Hash() (string, error) {
	return common.HashDirs(migrations.Files(), "*.sql", ".")
}

// Migrate applies every migration to the template database.
func (Migrator) Migrate(ctx context.Context, _ *sql.DB, conf pgtestdb.Config) error {
	ms, err := migrations.New()
	if err != nil {
		return err
	}
	db, err := postgres.Open(conf.URL(), postgres.PoolConfig{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := postgres.NewMigrator(db, ms, log).Migrate(ctx); err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	return nil
}
