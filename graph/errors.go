package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/brickgallery/sets/internal/postgres"
	"github.com/brickgallery/sets/internal/reqid"
	"github.com/brickgallery/sets/models"
)

// internalMessage is all a caller learns of an error that is not coded.
const internalMessage = "internal error"

// ErrorPresenter decides what the caller sees of each error. Resolver errors
// arrive already wrapped in *gqlerror.Error, so "is it a gqlerror" says
// nothing about whether it is safe to show: only our coded models.Error,
// gqlgen's own parse and validation errors and input coercion errors are
// shown; a database that could not be reached is said so (a request that
// may be retried); everything else is logged with the request id and
// masked.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var appErr *models.Error
		switch {
		case errors.As(err, &appErr) && appErr.Code != models.CodeInternal:
			gqlErr.Message = appErr.Message
			field := appErr.Field
			if field == "" && appErr.Code == models.CodeInvalid {
				field = inputPath(ctx, gqlErr.Path)
			}
			setCode(gqlErr, appErr.Code, field)
		case isCoercionError(err):
			// An Int out of the 32-bit range, or a value gqlgen could not
			// unmarshal into an argument.
			setCode(gqlErr, models.CodeInvalid, inputPath(ctx, gqlErr.Path))
		case isComplexityError(gqlErr):
			setCode(gqlErr, models.CodeTooComplex, "")
		case isValidationError(gqlErr):
			if len(gqlErr.Path) > 0 && gqlErr.Path[0] == ast.PathName("variable") {
				// A variable of the wrong type is bad input, not a bad query.
				gqlErr.Message = variableMessage(gqlErr.Message)
				setCode(gqlErr, models.CodeInvalid, joinPath(gqlErr.Path[1:]))
			}
		case postgres.Unavailable(err):
			id := reqid.FromContext(ctx)
			log.WarnContext(ctx, "database unavailable", "request_id", id, "path", gqlErr.Path.String(), "err", err)
			gqlErr.Message = models.UnavailableMessage
			gqlErr.Extensions = map[string]any{"code": string(models.CodeUnavailable), "requestId": id}
			markUnavailable(ctx)
		default:
			id := reqid.FromContext(ctx)
			log.ErrorContext(ctx, "request failed", "request_id", id, "path", gqlErr.Path.String(), "err", err)
			gqlErr.Message = internalMessage
			gqlErr.Extensions = map[string]any{"code": string(models.CodeInternal), "requestId": id}
		}
		return gqlErr
	}
}

// RecoverFunc turns a panic in a resolver into a logged internal error.
func RecoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "resolver panicked", "request_id", reqid.FromContext(ctx),
			"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return &models.Error{Code: models.CodeInternal, Message: internalMessage, Err: fmt.Errorf("panic: %v", p)}
	}
}

func setCode(e *gqlerror.Error, code models.Code, field string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = string(code)
	if field != "" {
		e.Extensions["field"] = field
	}
}

// isComplexityError spots gqlparser's limit on nested introspection, a
// validation rule that runs before our own depth limit sees the query:
// SPEC §5 calls it QUERY_TOO_COMPLEX, like our own limits' refusals.
func isComplexityError(e *gqlerror.Error) bool {
	code, _ := e.Extensions["code"].(string)
	return e.Err == nil && code == errcode.ValidationFailed && e.Rule == rules.MaxIntrospectionDepth.Name
}

func isValidationError(e *gqlerror.Error) bool {
	code, _ := e.Extensions["code"].(string)
	return (code == errcode.ValidationFailed || code == errcode.ParseFailed) && e.Err == nil
}

func isCoercionError(err error) bool {
	var overflow *graphql.NumberOverflowError
	return errors.As(err, &overflow) || errors.As(err, new(graphql.IntegerError)) ||
		errors.As(err, new(*graphql.IntegerError))
}

// inputPath turns an error path such as [createSet input images 0 imageUrl]
// into the argument path "input.images.0.imageUrl", dropping the path of the
// field whose argument it is.
func inputPath(ctx context.Context, p ast.Path) string {
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		if fp := fc.Path(); len(fp) <= len(p) {
			p = p[len(fp):]
		}
	}
	return joinPath(p)
}

func joinPath(p ast.Path) string {
	parts := make([]string, len(p))
	for i, el := range p {
		switch v := el.(type) {
		case ast.PathIndex:
			parts[i] = strconv.Itoa(int(v))
		case ast.PathName:
			parts[i] = string(v)
		}
	}
	return strings.Join(parts, ".")
}

// scalarExpectations say what each built-in scalar takes, as
// graph/scalar's strict unmarshalers do.
var scalarExpectations = map[string]string{
	"Int":     "not an Int: send a whole number in integer notation (3, not \"3\", 3.5 or 3.0) within the 32-bit range",
	"Float":   "not a Float: send a JSON number, not a string",
	"String":  "not a String: send a JSON string, not a number or a boolean",
	"Boolean": "not a Boolean: send true or false, not a string or a number",
}

// variableMessage rewords gqlparser's complaint about a variable's value
// ("cannot use string as Int", where the string may be a JSON number 3.5
// as the decoder keeps it, or "cannot use value 0 as Int" for 3.5 at the
// top level) into what the client must send instead.
func variableMessage(msg string) string {
	if !strings.HasPrefix(msg, "cannot use ") {
		return msg
	}
	i := strings.LastIndex(msg, " as ")
	if i < 0 {
		return msg
	}
	if want, ok := scalarExpectations[msg[i+len(" as "):]]; ok {
		return want
	}
	return msg
}
