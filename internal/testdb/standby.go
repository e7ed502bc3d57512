package testdb

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/migrations"
)

// StandbyOptions configure StartStandby.
type StandbyOptions struct {
	// ApplyDelay, when positive, is the standby's
	// recovery_min_apply_delay: it shows each transaction that long after
	// the primary committed it, as a replica under load might.
	ApplyDelay time.Duration
}

// StartStandby starts a streaming standby of primary (a cluster of
// StartCluster): pg_basebackup -R from it, as the cluster's OS user, then
// a hot standby on a free port of its own. It is stopped and removed when
// tb ends.
func StartStandby(tb testing.TB, primary *Cluster, opts StandbyOptions) *Cluster {
	tb.Helper()
	dir, err := os.MkdirTemp("", "sets-standby-")
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{bin: primary.bin, dir: dir, cred: primary.cred, tb: tb}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	if c.Port, err = freePort(); err != nil {
		tb.Fatal(err)
	}
	c.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port), "-U", "postgres",
		"-D", c.data(), "-R", "-X", "stream", "-c", "fast", "--no-sync")
	c.opts = fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c hot_standby=on "+
		"-c wal_receiver_status_interval=1s -c recovery_min_apply_delay=%dms",
		c.Port, dir, opts.ApplyDelay.Milliseconds())
	c.start()
	return c
}

// Stop stops the server (pg_ctl stop) in mode: smart, fast or immediate.
func (c *Cluster) Stop(mode string) {
	c.tb.Helper()
	if err := c.pgctl("stop", "-m", mode); err != nil {
		c.tb.Fatal(err)
	}
}

// Start starts a server that Stop stopped.
func (c *Cluster) Start() {
	c.tb.Helper()
	c.start()
}

// Migrated creates database name on the cluster, applies every migration
// to it with the application's migrator, and returns its URL.
func (c *Cluster) Migrated(name string) string {
	c.tb.Helper()
	url := c.URL(name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := postgres.EnsureDatabase(ctx, url); err != nil {
		c.tb.Fatal(err)
	}
	ms, err := migrations.New()
	if err != nil {
		c.tb.Fatal(err)
	}
	db, err := postgres.Open(url, postgres.PoolConfig{MaxConns: 2})
	if err != nil {
		c.tb.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := postgres.NewMigrator(db, ms, log).Migrate(ctx); err != nil {
		c.tb.Fatalf("migrate %s: %v", name, err)
	}
	return url
}
