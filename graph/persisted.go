package graph

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/brickgallery/sets/internal/persisted"
	"github.com/brickgallery/sets/models"
)

// persistedQueries resolves extensions.persistedQuery, Apollo's Automatic
// Persisted Queries protocol, over both transports; with a trusted-documents
// manifest it also refuses every document that is not in it.
//
// It stands in for gqlgen's extension.AutomaticPersistedQuery, whose errors
// our presenter would mask as INTERNAL_SERVER_ERROR (PERSISTED_QUERY_NOT_FOUND
// is not one of our codes, and a wrong hash or version has no code at all),
// whose extension decoding allocates on every such request, and which has
// no trusted mode.
type persistedQueries struct {
	cache   *persisted.Cache     // registered documents; unused in trusted mode
	trusted *persisted.Documents // nil unless a manifest was given
}

// The sizes of the APQ cache. 4 MiB holds thousands of real documents (the
// gallery's is under 1 KB) while staying small beside the server's 44 MiB
// soft memory limit, whoever registers documents.
const (
	apqCacheBytes  = 4 << 20
	apqMaxDocument = 64 << 10
)

func init() {
	// A refused or malformed request is answered like a document that does
	// not parse (422). PERSISTED_QUERY_NOT_FOUND stays an ordinary 200
	// answer: it is what Apollo's link expects (older versions stop using
	// hashes for good after a 400 or 500).
	errcode.RegisterErrorType(string(models.CodeBadRequest), errcode.KindProtocol)
	errcode.RegisterErrorType(string(models.CodeTrustedDocumentRequired), errcode.KindProtocol)
}

var _ interface {
	graphql.OperationParameterMutator
	graphql.HandlerExtension
} = persistedQueries{}

// ExtensionName names the extension for gqlgen.
func (persistedQueries) ExtensionName() string { return "PersistedQueries" }

// Validate accepts every schema.
func (persistedQueries) Validate(graphql.ExecutableSchema) error { return nil }

// Messages a client sees. notFoundMessage is the exact text Apollo's link
// looks for, besides the code.
const (
	notFoundMessage   = "PersistedQueryNotFound"
	untrustedMessage  = "this server runs only its trusted documents, addressed by extensions.persistedQuery.sha256Hash; this document is not one of them"
	unknownHash       = "no trusted document has this sha256Hash"
	hashMismatch      = "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query"
	badExtension      = "extensions.persistedQuery must be an object with version 1 and sha256Hash, the SHA-256 of the query in hex"
	unsupportedPQVers = "extensions.persistedQuery.version: only version 1 is supported"
)

// MutateOperationParameters puts the document a hash addresses in place of
// the missing query, registers a document sent with its hash, and in
// trusted mode refuses any other document, all before anything is parsed.
func (p persistedQueries) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	ext := raw.Extensions["persistedQuery"]
	if ext == nil {
		// The gallery's path: no extension, nothing to do but, in trusted
		// mode, one map lookup by text.
		if p.trusted == nil || p.trusted.Contains(raw.Query) {
			return nil
		}
		return persistedError(ctx, raw, models.CodeTrustedDocumentRequired, untrustedMessage)
	}
	hash, msg := persistedHash(ext)
	if msg != "" {
		return persistedError(ctx, raw, models.CodeBadRequest, msg)
	}
	switch {
	case raw.Query == "" && p.trusted != nil:
		text, ok := p.trusted.ByHash(hash)
		if !ok {
			return persistedError(ctx, raw, models.CodeTrustedDocumentRequired, unknownHash)
		}
		raw.Query = text
	case raw.Query == "":
		text, ok := p.cache.Get(hash)
		if !ok {
			return persistedError(ctx, raw, models.CodePersistedQueryNotFound, notFoundMessage)
		}
		raw.Query = text
	case p.trusted != nil:
		if text, ok := p.trusted.ByHash(hash); ok && text == raw.Query {
			return nil
		}
		if persisted.Hash(raw.Query) != hash {
			return persistedError(ctx, raw, models.CodeBadRequest, hashMismatch)
		}
		return persistedError(ctx, raw, models.CodeTrustedDocumentRequired, untrustedMessage)
	default:
		if text, ok := p.cache.Get(hash); ok && text == raw.Query {
			return nil // already registered, and so already checked
		}
		if persisted.Hash(raw.Query) != hash {
			return persistedError(ctx, raw, models.CodeBadRequest, hashMismatch)
		}
		p.cache.Add(hash, raw.Query)
	}
	return nil
}

// persistedHash returns the hash the extension carries, in lowercase, or
// what is wrong with the extension.
func persistedHash(ext any) (hash, problem string) {
	m, ok := ext.(map[string]any)
	if !ok {
		return "", badExtension
	}
	if !isVersion1(m["version"]) {
		return "", unsupportedPQVers
	}
	hash, _ = m["sha256Hash"].(string)
	if !persisted.IsHash(hash) {
		// Hex is hex in either case; our keys are lowercase.
		if hash = strings.ToLower(hash); !persisted.IsHash(hash) {
			return "", badExtension
		}
	}
	return hash, ""
}

// isVersion1 accepts 1 as either transport decodes it (json.Number) or as
// a plain decoder would.
func isVersion1(v any) bool {
	switch v := v.(type) {
	case json.Number:
		return v == "1"
	case float64:
		return v == 1
	case int:
		return v == 1
	case int64:
		return v == 1
	}
	return false
}

// persistedError returns a coded error the presenter shows as it is.
func persistedError(ctx context.Context, raw *graphql.RawParams, code models.Code, msg string) *gqlerror.Error {
	if graphql.HasOperationContext(ctx) {
		// gqlgen records the operation name only after this extension has
		// let the request through: record it now, so that the log line and
		// the metrics of a refused request still name the operation.
		graphql.GetOperationContext(ctx).OperationName = raw.OperationName
	}
	e := &gqlerror.Error{Message: msg, Err: &models.Error{Code: code, Message: msg}}
	// Set before presenting: the transports choose the status from it.
	errcode.Set(e, string(code))
	return e
}
