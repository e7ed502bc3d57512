package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/store"
)

const mediaGCSynopsis = `sets db media-gc [--older-than 1h]

Removes from the media store (MEDIA_STORE, default file:./media) every file
that no image row points at and no queued deletion names, written more than
--older-than ago: what a crash between writing an upload's files and its
row leaves behind. Younger files are left alone, since an upload writes its
files before its row. Prints how many files it saw and removed. Refuses
while migrations are pending.`

// runDBMediaGC is `sets db media-gc`.
func runDBMediaGC(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("db media-gc", mediaGCSynopsis, stderr)
	olderThan := fs.Duration("older-than", time.Hour, "leave files written more recently than this `age`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("db media-gc takes no arguments, got %q", fs.Args())}
	}
	if *olderThan < 0 {
		return usageError{"--older-than may not be negative"}
	}
	spec := getenv("MEDIA_STORE")
	if spec == "" {
		spec = "file:./media"
	}
	photos, err := media.OpenStore(ctx, spec, getenv)
	if err != nil {
		return fmt.Errorf("MEDIA_STORE: %w", err)
	}
	env, err := loadDBEnv(getenv, stderr)
	if err != nil {
		return err
	}
	if err := requireMigrated(ctx, env, "media-gc"); err != nil {
		return err
	}
	db, err := postgres.Open(env.url, postgres.PoolConfig{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	seen, removed, err := media.GC(ctx, photos, store.New(db, store.Options{}).ReferencedMedia, *olderThan)
	if err != nil {
		return fmt.Errorf("media-gc: %w", err)
	}
	fmt.Fprintf(stdout, "media-gc: %d files in the store, %d without a row removed\n", seen, removed)
	return nil
}
