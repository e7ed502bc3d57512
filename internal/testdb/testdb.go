// Package testdb gives each test a real, throwaway PostgreSQL database.
//
// Databases are cloned from a template that is migrated once (per set of
// migration files, shared across packages and runs) by peterldowns/pgtestdb,
// so a fresh database costs a CREATE DATABASE ... TEMPLATE, not a migration.
// The server comes from TEST_DATABASE_URL, by default the local one. A
// database is dropped when its test passes and kept for inspection when it
// fails (pgtestdb logs its URL).
//
// TEST_DATABASE_URL may be a transaction-pooling PgBouncer in front of the
// server (.ci/with-pgbouncer), as DATABASE_URL may be in production (SPEC
// §12). TEST_DATABASE_DIRECT_URL (default TEST_DATABASE_URL) then reaches
// the same server directly: databases are created, migrated and dropped
// there, and Direct gives a test the direct URL of its database for what
// needs a session of its own (migrations and their advisory lock, LISTEN).
// Everything else a test does goes through TEST_DATABASE_URL.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// URL returns the connection URL of a fresh, migrated database, through
// TEST_DATABASE_URL (a pooler, if there is one).
func URL(tb testing.TB) string {
	tb.Helper()
	return create(tb, Migrator{})
}

// EmptyURL returns the connection URL of a fresh database with no tables at
// all, for tests of the migrations themselves. Migrate it through
// Direct(url).
func EmptyURL(tb testing.TB) string {
	tb.Helper()
	return create(tb, pgtestdb.NoopMigrator{})
}

// create has pgtestdb make a database on the server directly and returns
// its URL through TEST_DATABASE_URL.
func create(tb testing.TB, m pgtestdb.Migrator) string {
	tb.Helper()
	srv := servers(tb)
	conf := pgtestdb.Custom(tb, srv.config(), m)
	dropForced(tb, srv.direct, conf.Database)
	return rehost(conf.URL(), srv.direct, srv.pooled)
}

// Direct returns the URL of the same database as url (one of URL or
// EmptyURL), but straight to the server, bypassing the pooler that
// TEST_DATABASE_URL may be: what DATABASE_DIRECT_URL is to the server.
// Without a pooler it is url itself.
func Direct(url string) string {
	pooled, direct := envURLs()
	if pooled == direct {
		return url
	}
	p, err := postgres.ParseConfig(pooled)
	if err != nil {
		return url
	}
	d, err := postgres.ParseConfig(direct)
	if err != nil {
		return url
	}
	return rehost(url, p, d)
}

// NoPrepare reports whether the tests' connections go through a pooler:
// TEST_DATABASE_DIRECT_URL is set and differs from TEST_DATABASE_URL, the
// only reason to set it. Code under test must then send no named prepared
// statements (store.Options.NoPrepare, DB_PREPARED_STATEMENTS=false): a
// transaction-pooling PgBouncer older than 1.21 (Debian 12 has 1.18) hands
// each transaction whichever server connection is free, where a statement
// prepared on another one does not exist, or another one of the same name
// does. Which PgBouncer it is cannot be told from its URL, so any pooler
// counts as one that cannot.
func NoPrepare() bool {
	pooled, direct := envURLs()
	return pooled != direct
}

// ServerEnv is the database configuration of a server under test over the
// database at url (from URL or EmptyURL), as the environment gives it:
// DATABASE_URL through the pooler if there is one, DATABASE_DIRECT_URL
// straight to the server, and DB_PREPARED_STATEMENTS off behind a pooler
// (see NoPrepare).
func ServerEnv(url string) map[string]string {
	return map[string]string{
		"DATABASE_URL":           url,
		"DATABASE_DIRECT_URL":    Direct(url),
		"DB_PREPARED_STATEMENTS": strconv.FormatBool(!NoPrepare()),
	}
}

// Environ is ServerEnv as KEY=VALUE strings, for a child process's
// environment (exec.Cmd.Env).
func Environ(url string) []string {
	var env []string
	for k, v := range ServerEnv(url) {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
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

// envURLs returns TEST_DATABASE_URL and TEST_DATABASE_DIRECT_URL, each with
// its default.
func envURLs() (pooled, direct string) {
	pooled = os.Getenv("TEST_DATABASE_URL")
	if pooled == "" {
		pooled = DefaultURL
	}
	direct = os.Getenv("TEST_DATABASE_DIRECT_URL")
	if direct == "" {
		direct = pooled
	}
	return pooled, direct
}

// server is the tests' PostgreSQL, as reached through TEST_DATABASE_URL
// (pooled) and directly.
type server struct {
	pooled, direct *pgx.ConnConfig
}

var (
	reachOnce sync.Once
	reachErr  error
)

// servers reads both URLs and fails the test, saying how to start
// PostgreSQL, when either does not answer. A test suite that skipped here
// would pass having tested nothing.
func servers(tb testing.TB) server {
	tb.Helper()
	pooledURL, directURL := envURLs()
	var srv server
	var err error
	if srv.pooled, err = postgres.ParseConfig(pooledURL); err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	if srv.direct, err = postgres.ParseConfig(directURL); err != nil {
		tb.Fatalf("TEST_DATABASE_DIRECT_URL: %v", err)
	}
	reachOnce.Do(func() {
		reachErr = ping(srv.direct)
		if reachErr == nil && pooledURL != directURL {
			if err := ping(srv.pooled); err != nil {
				reachErr = fmt.Errorf("through TEST_DATABASE_URL (%s:%d): %w", srv.pooled.Host, srv.pooled.Port, err)
			}
		}
	})
	if reachErr != nil {
		tb.Fatalf("PostgreSQL is not reachable at %s:%d as %q: %v\n"+
			"Start it (on Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start),\n"+
			"or point TEST_DATABASE_URL at a server where that user may create databases and roles\n"+
			"(and TEST_DATABASE_DIRECT_URL at the server itself when TEST_DATABASE_URL is a pooler: .ci/with-pgbouncer).",
			srv.direct.Host, srv.direct.Port, srv.direct.User, reachErr)
	}
	return srv
}

// ping connects with cfg and checks that the server answers.
func ping(cfg *pgx.ConnConfig) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// config is pgtestdb's view of the server: directly, since it creates
// templates under a session advisory lock, migrates them and creates and
// drops databases, none of which works through a transaction pooler.
func (s server) config() pgtestdb.Config {
	// The role is pgtestdb's default, named here because
	// .ci/with-pgbouncer lists it in PgBouncer's auth_file.
	role := pgtestdb.DefaultRole()
	return pgtestdb.Config{
		DriverName:                "pgx",
		Host:                      s.direct.Host,
		Port:                      strconv.Itoa(int(s.direct.Port)),
		User:                      s.direct.User,
		Password:                  s.direct.Password,
		Database:                  s.direct.Database,
		Options:                   "sslmode=disable",
		TestRole:                  &role,
		ForceTerminateConnections: true,
	}
}

// rehost returns url with its host and port changed from those of from to
// those of to; a url elsewhere is returned as it is.
func rehost(url string, from, to *pgx.ConnConfig) string {
	u, err := neturl.Parse(url)
	if err != nil || u.Hostname() != from.Host || u.Port() != strconv.Itoa(int(from.Port)) {
		return url
	}
	u.Host = net.JoinHostPort(to.Host, strconv.Itoa(int(to.Port)))
	return u.String()
}

// dropForced drops database name (on the server directly) when tb ends and
// passed, before pgtestdb's own cleanup, whose DROP DATABASE then finds
// nothing to drop. pgtestdb terminates the database's backends and then
// drops it, but a pooler keeps server connections of its own to the
// database after the test's pools closed, and may open one more (for a
// client that was connecting as the test ended) between the two: the drop
// then fails with "database ... is being accessed by other users".
// DROP DATABASE ... WITH (FORCE) (PostgreSQL 13) terminates the backends
// and refuses new ones in one statement. PgBouncer's own console (KILL db)
// would do it too, but leaves the database paused until a RESUME, and the
// tests would need its address and an admin login. Without a pooler it
// changes nothing but who drops.
func dropForced(tb testing.TB, direct *pgx.ConnConfig, name string) {
	tb.Cleanup(func() {
		if tb.Failed() {
			return // pgtestdb keeps the database for inspection
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, direct)
		if err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.WithoutCancel(ctx))
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
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
