package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/brickgallery/sets/internal/csvio"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/models"
)

const exportSynopsis = `sets db export --email E [--format sets|rebrickable] [--theme T]

Writes the sets of the user with email E to standard output as CSV, the
same bytes as GET /export/sets.csv answers that user: our own CSV (every
field, lossless, for 'sets db import') or, with --format rebrickable, a file
that Rebrickable's set list import takes. --theme keeps only the sets of
exactly that theme. Streams in constant memory; writes nothing to the
database. Refuses while migrations are pending.`

// runDBExport is `sets db export`.
func runDBExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("db export", exportSynopsis, stderr)
	email := fs.String("email", "", "the `email` of the user whose sets to export")
	formatName := fs.String("format", string(csvio.FormatSets), "the file's `format`: sets or rebrickable")
	themeName := fs.String("theme", "", "export only the sets of exactly this `theme`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("db export takes no arguments, got %q", fs.Args())}
	}
	if *email == "" {
		return usageError{"db export needs --email E"}
	}
	format, err := csvio.ParseFormat(*formatName)
	if err != nil {
		return usageError{err.Error()}
	}
	var theme *string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "theme" {
			t := strings.TrimSpace(*themeName)
			theme = &t
		}
	})
	if theme != nil && *theme == "" {
		return usageError{"--theme may not be empty: leave it out to export every theme"}
	}
	env, err := loadDBEnv(getenv, stderr)
	if err != nil {
		return err
	}
	if err := requireMigrated(ctx, env, "export"); err != nil {
		return err
	}
	db, err := postgres.Open(env.url, postgres.PoolConfig{MaxConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	st := store.New(db, store.Options{})
	u, err := st.UserByEmail(ctx, *email)
	if models.ErrorCode(err) == models.CodeNotFound {
		return fmt.Errorf("export: no user has the email %q", *email)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := csvio.Export(ctx, stdout, format, csvio.FromStore(st, u.ID, theme, format)); err != nil {
		return fmt.Errorf("export the sets of %s: %w", *email, err)
	}
	return nil
}
