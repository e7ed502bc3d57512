// Package postgres opens the application's PostgreSQL connection pool, creates
// the database when it is missing, and runs the embedded migrations under a
// session-level advisory lock.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// PoolConfig sizes the connection pool.
type PoolConfig struct {
	// MaxConns caps open connections. On a 2-core machine a handful keeps
	// PostgreSQL busy without queueing dozens of backends on the CPU.
	MaxConns int
	// Tracer, when set, sees every statement and batch sent on the pool's
	// connections (tests record them with it).
	Tracer pgx.QueryTracer
}

// ParseConfig reads a DATABASE_URL and pins the settings every connection of
// this application needs, whatever the URL says:
//   - TimeZone=UTC, so that now() defaults on the timestamp (without time
//     zone) columns agree with the UTC values the API writes;
//   - the simple query protocol for Bun's queries: Bun interpolates
//     arguments client-side, so the default statement cache would prepare
//     every distinct literal, and prepared statements break behind a
//     transaction-pooling PgBouncer. With no parameters left to bind, one
//     Query message costs PostgreSQL a quarter less CPU than pgx's default
//     describe-then-execute (gallery page, when Bun still ran it: 0.66 →
//     0.48 ms of database CPU per request). The gallery's hot reads now go
//     their own way (internal/store/roundtrip.go: one pipeline, binary
//     rows, a few prepared statements);
//   - client_connection_check_interval (unless the URL sets it): without it a
//     backend whose process died (SIGKILL, OOM) runs its statement to the
//     end. A killed migrator's statement then kept its snapshot, and the next
//     migrator's CREATE INDEX CONCURRENTLY waited for it: 58 s behind a
//     one-minute statement, 0.2 s with the check.
func ParseConfig(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	// GUC names are case-insensitive: a URL's "TimeZone=..." is a separate
	// map key that would be sent too, and the server applies whichever
	// comes last in the (randomly ordered) startup packet.
	for k := range cfg.RuntimeParams {
		if strings.EqualFold(k, "timezone") {
			delete(cfg.RuntimeParams, k)
		}
	}
	cfg.RuntimeParams["timezone"] = "UTC"
	if !hasParam(cfg.RuntimeParams, "client_connection_check_interval") {
		cfg.RuntimeParams["client_connection_check_interval"] = "1s"
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return cfg, nil
}

// hasParam reports whether params sets name, in any letter case (PostgreSQL
// setting names are case-insensitive).
func hasParam(params map[string]string, name string) bool {
	for k := range params {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// Open returns a Bun handle over a pgx connection pool for dsn. It does not
// connect; call Ping (or run a query) to find out whether the server answers.
func Open(dsn string, pool PoolConfig) (*bun.DB, error) {
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if pool.Tracer != nil {
		cfg.Tracer = pool.Tracer
	}
	sqldb := stdlib.OpenDB(*cfg)
	if pool.MaxConns > 0 {
		sqldb.SetMaxOpenConns(pool.MaxConns)
		sqldb.SetMaxIdleConns(pool.MaxConns)
	}
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	return bun.NewDB(sqldb, pgdialect.New(), bun.WithDiscardUnknownColumns()), nil
}

// EnsureDatabase creates the database named in dsn when it does not exist. It
// connects to the server's "postgres" maintenance database to do so, and is
// safe to call from many processes at once: losing the race to create the
// database counts as success.
func EnsureDatabase(ctx context.Context, dsn string) (created bool, err error) {
	cfg, err := ParseConfig(dsn)
	if err != nil {
		return false, err
	}
	name := cfg.Database
	if name == "" {
		return false, errors.New("database url names no database")
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return false, fmt.Errorf("connect to %s:%d as %q to create database %q: %w",
			cfg.Host, cfg.Port, cfg.User, name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return false, nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505"):
		// 42P04 duplicate_database, or 23505 when two CREATE DATABASE
		// statements race on pg_database's unique index: another process won.
		return false, nil
	default:
		return false, fmt.Errorf("create database %q: %w", name, err)
	}
}

// Ping checks that the database answers, with a short bound so a caller
// never hangs on an unreachable server.
func Ping(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}
