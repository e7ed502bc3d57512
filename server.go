// Command sets is the Sets Gallery API: a GraphQL server over PostgreSQL for
// LEGO collectors, and the command line that creates, migrates and seeds its
// database. Run `sets help` for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		// Usage was printed on request.
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "sets:", err)
		fmt.Fprintln(os.Stderr, "Run 'sets help' for usage.")
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "sets:", err)
		os.Exit(1)
	}
}

const usage = `sets: the Sets Gallery API server and its database tools.

Usage:
  sets serve [--addr HOST:PORT] [--trusted-documents FILE] [--migrate=false]
                          run the GraphQL server (creates and migrates the database first)
  sets db migrate         create the database if missing, apply pending migrations
  sets db rollback        roll back the last applied group of migrations
  sets db status          list migrations as applied or pending
  sets db create NAME     write a new timestamped up/down SQL migration pair
  sets db seed            load the demo collection (idempotent)
  sets db verify          compare derived data (theme totals, set-number keys) with its sources
  sets db repair          rebuild all derived data in one transaction
  sets db export --email E [--format sets|rebrickable] [--theme T]
                          write that user's sets to standard output as CSV
  sets db import --email E [--format F] [--mode M] [--target T] [--dry-run] FILE
                          add the sets of FILE (CSV or BrickLink XML; - for stdin) to that user's collection
  sets db media-gc [--older-than 1h]
                          remove stored photo files that no row points at
  sets token --email E    create that user if missing and print a bearer token
  sets help               show this help

Configuration comes from the environment (see README.md):
  DATABASE_URL  ADDR  APP_ENV  AUTH_JWT_SECRET  CORS_ALLOWED_ORIGINS
  LOG_LEVEL  LOG_FORMAT  GRAPHIQL_ENABLED  INTROSPECTION_ENABLED
  QUERY_COMPLEXITY_LIMIT  QUERY_DEPTH_LIMIT  DB_MAX_CONNS  DB_MAX_ACTIVE_READS
  DB_PREPARED_STATEMENTS  DB_RETRY_WITHIN  SHUTDOWN_TIMEOUT  TRUSTED_DOCUMENTS
  MEDIA_STORE  MEDIA_MAX_BYTES  MEDIA_DECODERS  PUBLIC_URL  MEDIA_PUBLIC_URL
`

// usageError is a mistake in the command line, answered with exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run is the whole program behind main, with its environment passed in so
// tests can run commands in process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "db":
		return runDB(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting, and
// prints its usage to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning a flag mistake into a usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return usageError{err.Error()}
	}
	return err
}
