package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/brickgallery/sets/internal/derived"
	"github.com/brickgallery/sets/internal/postgres"
)

const verifySynopsis = `sets db verify [--limit N]

Compares every kind of derived data with what it derives from: the triggers
that keep it (enabled?), sets' and wishlist items' canonical set-number keys
(against canonical_set_number(set_number)) and user_theme_totals (against
the sets themselves). Prints each difference, at most N per kind, and exits
1 when there is any; prints one "ok" line and exits 0 when there is none.
Reads one snapshot and writes nothing. Refuses while migrations are pending.`

const repairSynopsis = `sets db repair [--lock-timeout 5s]

Rebuilds every kind of derived data that 'sets db verify' checks (enables
the triggers that keep it, recomputes canonical set-number keys, rebuilds
user_theme_totals from the sets) in one transaction, and prints how many
rows of each it changed. While it runs,
reads go on and writes of users, sets and wishlist items wait. Changes no
updated_at nor any other value a user entered. Running it again changes
nothing. Refuses while migrations are pending.`

// runDBVerify is `sets db verify`.
func runDBVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("db verify", verifySynopsis, stderr)
	limit := fs.Int("limit", 20, "list at most `N` differences of each kind (all are counted)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("db verify takes no arguments, got %q", fs.Args())}
	}
	if *limit < 1 {
		return usageError{"--limit must be at least 1"}
	}
	env, err := loadDBEnv(getenv, stderr)
	if err != nil {
		return err
	}
	if err := requireMigrated(ctx, env, "verify"); err != nil {
		return err
	}
	db, err := postgres.Open(env.url, postgres.PoolConfig{MaxConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	reports, err := derived.Verify(ctx, db, *limit)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	return printReports(stdout, reports)
}

// printReports lists the differences of each kind and returns an error
// (exit 1) when there is any.
func printReports(w io.Writer, reports []derived.Report) error {
	total, names := 0, make([]string, 0, len(reports))
	var wrong []string
	for _, r := range reports {
		names = append(names, r.Kind)
		if r.Count == 0 {
			continue
		}
		total += r.Count
		wrong = append(wrong, r.Kind)
		fmt.Fprintf(w, "%s: %d difference(s)\n", r.Kind, r.Count)
		for _, d := range r.Shown {
			fmt.Fprintf(w, "  %s: expected %s, found %s\n", d.Subject, d.Expected, d.Found)
		}
		if more := r.Count - len(r.Shown); more > 0 {
			fmt.Fprintf(w, "  … and %d more\n", more)
		}
	}
	if total > 0 {
		return fmt.Errorf("derived data differs from what it derives from: %d difference(s) in %s; run 'sets db repair'",
			total, strings.Join(wrong, ", "))
	}
	fmt.Fprintf(w, "ok: no differences in %s\n", strings.Join(names, ", "))
	return nil
}

// runDBRepair is `sets db repair`.
func runDBRepair(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("db repair", repairSynopsis, stderr)
	lockTimeout := fs.Duration("lock-timeout", 5*time.Second,
		"give up (and change nothing) when a table's lock is not granted within this long; 0 waits for ever")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("db repair takes no arguments, got %q", fs.Args())}
	}
	if *lockTimeout < 0 {
		return usageError{"--lock-timeout must not be negative"}
	}
	env, err := loadDBEnv(getenv, stderr)
	if err != nil {
		return err
	}
	if err := requireMigrated(ctx, env, "repair"); err != nil {
		return err
	}
	db, err := postgres.Open(env.url, postgres.PoolConfig{MaxConns: 1})
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	repaired, err := derived.Repair(ctx, db, *lockTimeout)
	if err != nil {
		return fmt.Errorf("repair (nothing was changed): %w", err)
	}
	var total int64
	for _, r := range repaired {
		total += r.Changed
		fmt.Fprintf(stdout, "%s: %d changed\n", r.Kind, r.Changed)
	}
	if total == 0 {
		fmt.Fprintln(stdout, "nothing to repair: all derived data matched what it derives from")
		return nil
	}
	fmt.Fprintf(stdout, "repaired %d row(s) in one transaction in %s\n", total, time.Since(start).Round(time.Millisecond))
	return nil
}

// requireMigrated refuses to check or rebuild derived data while
// migrations are pending: against a half-migrated schema the derived
// tables, columns or the functions they derive through may not exist yet,
// and a backfill still to run would look like damage.
func requireMigrated(ctx context.Context, env dbEnv, what string) error {
	db, m, err := openMigrator(env)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := m.Status(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var pending []string
	for _, s := range st {
		if !s.Applied {
			pending = append(pending, s.Name)
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("%s: %d migration(s) pending (first %s): run 'sets db migrate' first",
			what, len(pending), pending[0])
	}
	return nil
}
