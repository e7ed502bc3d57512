package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/brickgallery/sets/graph"
	"github.com/brickgallery/sets/graph/model"
	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/store"
)

const importSynopsis = `sets db import --email E [--format F] [--mode M] [--target T] [--dry-run] FILE

Adds the rows of FILE (- for standard input) to the collection of the user
with email E (created if missing), as the importSets mutation does, with no
limit on the file's size or rows: all or nothing, every row checked as
createSet checks it. FILE is our own CSV (sets db export), a Rebrickable,
Brickset or BrickEconomy CSV export, or a BrickLink XML file.
  --format  AUTO (recognise it), SETS_CSV, REBRICKABLE_CSV, BRICKSET_CSV,
            BRICKECONOMY_CSV or BRICKLINK_XML
  --mode    SKIP_EXISTING (skip a set number already there) or ADD (add every row)
  --target  COLLECTION or WISHLIST
Prints what was done; errors (by line and column) go to standard error and
the exit status is 1. Refuses while migrations are pending.`

// runDBImport is `sets db import`.
func runDBImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("db import", importSynopsis, stderr)
	email := fs.String("email", "", "the `email` of the user to import for")
	formatName := fs.String("format", string(model.ImportFormatAuto), "the file's `format`")
	modeName := fs.String("mode", string(model.ImportModeSkipExisting), "SKIP_EXISTING or ADD")
	targetName := fs.String("target", string(model.ImportTargetCollection), "COLLECTION or WISHLIST")
	dryRun := fs.Bool("dry-run", false, "report what would happen and write nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"db import needs one FILE (- for standard input)"}
	}
	if *email == "" {
		return usageError{"db import needs --email E"}
	}
	opts := graph.ImportOptions{Format: model.ImportFormat(strings.ToUpper(*formatName)),
		Mode: model.ImportMode(strings.ToUpper(*modeName)), Target: model.ImportTarget(strings.ToUpper(*targetName)), DryRun: *dryRun}
	switch {
	case !opts.Format.IsValid():
		return usageError{fmt.Sprintf("--format %q is not one of %v", *formatName, model.AllImportFormat)}
	case !opts.Mode.IsValid():
		return usageError{fmt.Sprintf("--mode %q is not one of %v", *modeName, model.AllImportMode)}
	case !opts.Target.IsValid():
		return usageError{fmt.Sprintf("--target %q is not one of %v", *targetName, model.AllImportTarget)}
	}
	var in io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		in = f
	}
	env, err := loadDBEnv(getenv, stderr)
	if err != nil {
		return err
	}
	if err := requireMigrated(ctx, env, "import"); err != nil {
		return err
	}
	db, err := postgres.Open(env.url, postgres.PoolConfig{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	st := store.New(db, store.Options{})
	u, err := st.UserByEmailOrCreate(ctx, *email)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	report, err := graph.Import(ctx, st, u.ID, in, opts)
	if err != nil {
		return fmt.Errorf("import for %s: %w", *email, err)
	}
	for _, e := range report.Errors {
		where := fmt.Sprintf("line %d", e.Line)
		if e.Column != nil {
			where += ", column " + *e.Column
		}
		fmt.Fprintf(stderr, "%s: %s\n", where, e.Message)
	}
	if len(report.Errors) > 0 {
		if len(report.Errors) >= graph.MaxImportErrors {
			return fmt.Errorf("nothing was imported: the first %d errors are listed; reading stopped there", len(report.Errors))
		}
		return fmt.Errorf("nothing was imported: %d errors", len(report.Errors))
	}
	verb := "created"
	if opts.DryRun {
		verb = "would create (dry run, nothing written)"
	}
	fmt.Fprintf(stdout, "%s: %d rows read, %s %d, skipped %d\n", report.Format, report.RowsRead, verb, report.Created, report.Skipped)
	if len(report.SkippedLines) > 0 {
		fmt.Fprintf(stdout, "skipped lines: %s\n", joinLines(report.SkippedLines, 50))
	}
	return nil
}

// joinLines lists up to max line numbers.
func joinLines(lines []int32, max int) string {
	var b strings.Builder
	for i, l := range lines {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(lines)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, l)
	}
	return b.String()
}
