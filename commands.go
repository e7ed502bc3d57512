package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/seed"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/migrations"
)

// runDB dispatches the `db` subcommands.
func runDB(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"db needs a subcommand: migrate, rollback, status, create, seed, verify, repair, export, import or media-gc"}
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "create":
		return runDBCreate(args, stdout, stderr)
	case "verify":
		return runDBVerify(ctx, args, getenv, stdout, stderr)
	case "repair":
		return runDBRepair(ctx, args, getenv, stdout, stderr)
	case "export":
		return runDBExport(ctx, args, getenv, stdout, stderr)
	case "import":
		return runDBImport(ctx, args, getenv, stdout, stderr)
	case "media-gc":
		return runDBMediaGC(ctx, args, getenv, stdout, stderr)
	}
	fs := newFlagSet("db "+sub, "sets db "+sub, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("db %s takes no arguments, got %q", sub, fs.Args())}
	}
	env, err := loadDBEnv(getenv, stderr)
	if err != nil {
		return err
	}
	switch sub {
	case "migrate":
		return dbMigrate(ctx, env, stdout)
	case "rollback":
		return dbRollback(ctx, env, stdout)
	case "status":
		return dbStatus(ctx, env, stdout)
	case "seed":
		return dbSeed(ctx, env, stdout)
	default:
		return usageError{fmt.Sprintf("unknown db subcommand %q", sub)}
	}
}

// dbEnv is what every database command needs: where the database is and
// where to log.
type dbEnv struct {
	url string
	log *slog.Logger
}

// loadDBEnv reads where the database commands connect: DATABASE_DIRECT_URL
// when set, since migrations hold a session-level advisory lock that a
// transaction-pooling PgBouncer (DATABASE_URL) would not keep.
func loadDBEnv(getenv func(string) string, stderr io.Writer) (dbEnv, error) {
	name, url := "DATABASE_DIRECT_URL", getenv("DATABASE_DIRECT_URL")
	if url == "" {
		name, url = "DATABASE_URL", getenv("DATABASE_URL")
	}
	if url == "" {
		url = config.DefaultDatabaseURL
	}
	if _, err := postgres.ParseConfig(url); err != nil {
		return dbEnv{}, fmt.Errorf("%s: %w", name, err)
	}
	return dbEnv{url: url, log: slog.New(slog.NewTextHandler(stderr, nil))}, nil
}

// openMigrator opens the database (two connections: the lock's and the
// migrations') and a migrator over it.
func openMigrator(env dbEnv) (*bun.DB, *postgres.Migrator, error) {
	db, err := postgres.Open(env.url, postgres.PoolConfig{MaxConns: 2})
	if err != nil {
		return nil, nil, err
	}
	ms, err := migrations.New()
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, postgres.NewMigrator(db, ms, env.log), nil
}

// migrateUp creates the database if needed and applies pending migrations;
// serve, seed and token share it with `db migrate`.
func migrateUp(ctx context.Context, env dbEnv) ([]string, error) {
	created, err := postgres.EnsureDatabase(ctx, env.url)
	if err != nil {
		return nil, err
	}
	if created {
		env.log.Info("created database")
	}
	db, m, err := openMigrator(env)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return m.Migrate(ctx)
}

func dbMigrate(ctx context.Context, env dbEnv, stdout io.Writer) error {
	start := time.Now()
	applied, err := migrateUp(ctx, env)
	for _, name := range applied {
		fmt.Fprintf(stdout, "applied %s\n", name)
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "nothing to migrate: the database is up to date")
		return nil
	}
	fmt.Fprintf(stdout, "applied %d migration(s) in %s\n", len(applied), time.Since(start).Round(time.Millisecond))
	return nil
}

func dbRollback(ctx context.Context, env dbEnv, stdout io.Writer) error {
	db, m, err := openMigrator(env)
	if err != nil {
		return err
	}
	defer db.Close()
	rolledBack, err := m.Rollback(ctx)
	if err != nil {
		return err
	}
	if len(rolledBack) == 0 {
		fmt.Fprintln(stdout, "nothing to roll back: no migration is applied")
		return nil
	}
	for _, name := range rolledBack {
		fmt.Fprintf(stdout, "rolled back %s\n", name)
	}
	return nil
}

func dbStatus(ctx context.Context, env dbEnv, stdout io.Writer) error {
	db, m, err := openMigrator(env)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := m.Status(ctx)
	if err != nil {
		return err
	}
	for _, s := range st {
		state := "pending"
		if s.Applied {
			state = "applied"
		}
		fmt.Fprintf(stdout, "%s %s\n", s.Name, state)
	}
	return nil
}

func runDBCreate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("db create", "sets db create [--dir migrations] [--tx=false] NAME", stderr)
	dir := fs.String("dir", "migrations", "folder to write the migration files into")
	tx := fs.Bool("tx", true, "run the migration in a transaction (false for CREATE INDEX CONCURRENTLY)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"db create needs exactly one NAME, such as add_moc_links"}
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return fmt.Errorf("migrations folder %q not found: run this from the repository root or pass --dir", *dir)
	}
	m := migrate.NewMigrator(nil, migrate.NewMigrations(migrate.WithMigrationsDirectory(*dir)))
	create := m.CreateTxSQLMigrations
	if !*tx {
		create = m.CreateSQLMigrations
	}
	files, err := create(context.Background(), fs.Arg(0))
	if err != nil {
		return fmt.Errorf("create migration %q: %w", fs.Arg(0), err)
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "created %s\n", f.Path)
	}
	return nil
}

func dbSeed(ctx context.Context, env dbEnv, stdout io.Writer) error {
	if _, err := migrateUp(ctx, env); err != nil {
		return err
	}
	db, err := postgres.Open(env.url, postgres.PoolConfig{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := seed.Load(ctx, db)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(stdout, "seeded %d new set(s) for %s (get a token: sets token --email %s)\n", n, seed.DemoEmail, seed.DemoEmail)
	return nil
}

// runToken mints a bearer token for local use.
func runToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", "sets token --email E [--ttl 24h]", stderr)
	email := fs.String("email", "", "the user's email; the user is created if missing")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the token stays valid")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" || fs.NArg() > 0 {
		return usageError{"token needs --email E and nothing else"}
	}
	if *ttl <= 0 {
		return usageError{"--ttl must be positive"}
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	env := dbEnv{url: cfg.DatabaseDirectURL, log: slog.New(slog.NewTextHandler(stderr, nil))}
	if cfg.JWTSecretDefaulted {
		env.log.Warn("AUTH_JWT_SECRET is not set: signing with the development secret")
	}
	if _, err := migrateUp(ctx, env); err != nil {
		return err
	}
	db, err := postgres.Open(cfg.DatabaseURL, postgres.PoolConfig{MaxConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := store.New(db, store.Options{}).UserByEmailOrCreate(ctx, *email)
	if err != nil {
		return err
	}
	tok, err := auth.Mint(cfg.JWTSecret, u.ID, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
