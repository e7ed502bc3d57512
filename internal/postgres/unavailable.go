package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err means the database could not be reached
// or dropped the connection (a restart, a failover, a crash, no room for
// another connection), as opposed to refusing what was asked of it. The
// pool reconnects by itself, but nothing retries a request that met such
// an error: the API answers it as unavailable (HTTP 503), so that clients
// retry it, rather than as an internal error (STACK-NOTES).
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) {
		return false // the caller gave up, or a statement ran too long
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true // whatever the reason, there is no connection to use
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", "53300":
			// admin_shutdown (a restart or a terminated backend),
			// crash_shutdown, cannot_connect_now (starting up or shutting
			// down), too_many_connections.
			return true
		}
		return strings.HasPrefix(pgErr.Code, "08") // connection_exception
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
