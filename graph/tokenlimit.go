package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/brickgallery/sets/models"
)

// tokenLimitedExecutor answers a document past the parser's token limit as
// the over-limit query it is (QUERY_TOO_COMPLEX, HTTP 200, as the
// complexity and depth limits answer), where gqlparser reports it as a
// document that does not parse (GRAPHQL_PARSE_FAILED, 422). The transports
// use it because they choose the status from the
// errors' codes before the error presenter runs.
type tokenLimitedExecutor struct{ graphql.GraphExecutor }

// tokenLimitPrefix begins gqlparser's message for the limit; the parser
// gives the error no type of its own to match. TestTokenLimit fails if a
// gqlparser upgrade rewords it.
const tokenLimitPrefix = "exceeded token limit of "

// CreateOperationContext parses and validates as gqlgen does, then recodes
// the token-limit error.
func (e tokenLimitedExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	oc, errs := e.GraphExecutor.CreateOperationContext(ctx, params)
	recodeTokenLimit(errs)
	return oc, errs
}

// recodeTokenLimit turns the parser's token-limit error among errs into a
// QUERY_TOO_COMPLEX one, and a variable of the wrong kind into
// BAD_USER_INPUT, in place. postJSON calls it directly, which spares
// the gallery's requests a wrapped executor.
func recodeTokenLimit(errs gqlerror.List) {
	for _, err := range errs {
		code, _ := err.Extensions["code"].(string)
		if code == errcode.ValidationFailed && len(err.Path) > 0 && err.Path[0] == ast.PathName("variable") {
			// A variable of the wrong kind is bad input (HTTP 200), as
			// the same value one level down is when graph/scalar refuses
			// it; gqlgen's GET transport would answer 422 for it.
			msg := variableMessage(err.Message)
			err.Message = msg
			err.Err = &models.Error{Code: models.CodeInvalid, Field: joinPath(err.Path[1:]), Message: msg}
			delete(err.Extensions, "code")
			continue
		}
		if code != errcode.ParseFailed || !strings.HasPrefix(err.Message, tokenLimitPrefix) {
			continue
		}
		msg := fmt.Sprintf("the query has more than %d tokens, the limit; no real query comes near it", parserTokenLimit)
		err.Message = msg
		// Coded like the complexity limit's errors: the presenter sets
		// extensions.code from Err, and with no code yet the transports
		// answer 200.
		err.Err = &models.Error{Code: models.CodeTooComplex, Message: msg}
		delete(err.Extensions, "code")
	}
}
