package models

import (
	"errors"
	"fmt"
)

// Code classifies an application error. The GraphQL layer turns it into
// extensions.code once, at the edge.
type Code string

// The application error codes; see SPEC §5.
const (
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeNotFound        Code = "NOT_FOUND"
	CodeInvalid         Code = "BAD_USER_INPUT"
	CodeTooComplex      Code = "QUERY_TOO_COMPLEX"
	CodeInternal        Code = "INTERNAL_SERVER_ERROR"
	// CodeUnavailable: the database could not be reached or dropped the
	// connection (a restart); the request may be retried (HTTP 503).
	CodeUnavailable Code = "SERVICE_UNAVAILABLE"
	// CodeBadRequest: the request itself is malformed (not JSON, a bad
	// persistedQuery extension, a hash that is not its document's).
	CodeBadRequest Code = "BAD_REQUEST"
	// CodePersistedQueryNotFound: a request sent only a hash this process
	// does not know; Apollo's clients answer it by sending the document.
	CodePersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"
	// CodeTrustedDocumentRequired: the server runs only the documents of
	// its trusted-documents manifest, and this is not one of them.
	CodeTrustedDocumentRequired Code = "TRUSTED_DOCUMENT_REQUIRED"
	// CodeCursorExpired: a change-log cursor the log no longer reaches
	// (SPEC §11): refetch, then resume from a new cursor.
	CodeCursorExpired Code = "CURSOR_EXPIRED"
	// CodeTooManySubscriptions: a live-updates limit (per connection, per
	// user or per server) is reached.
	CodeTooManySubscriptions Code = "TOO_MANY_SUBSCRIPTIONS"
)

// UnavailableMessage is what the caller of a CodeUnavailable request is told.
const UnavailableMessage = "the database is unavailable; try again shortly"

// Error is an error meant to be shown to the API's caller: its Message is
// safe to display, and Field (for CodeInvalid) is the dotted input path such
// as "input.images.0.imageUrl".
type Error struct {
	Code    Code
	Message string
	Field   string
	// Err is the cause, for logs only; it is never shown to the caller.
	Err error
}

func (e *Error) Error() string {
	msg := string(e.Code) + ": " + e.Message
	if e.Field != "" {
		msg += " (" + e.Field + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Invalid reports bad input at field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports a missing row. Rows that belong to someone else are
// reported the same way, so ids cannot be probed.
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// Unauthenticated reports a missing or unusable bearer token.
func Unauthenticated(msg string) *Error {
	return &Error{Code: CodeUnauthenticated, Message: msg}
}

// ErrorCode returns the code of err, or CodeInternal when err carries none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
