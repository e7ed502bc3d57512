package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/brickgallery/sets/internal/persisted"
	"github.com/brickgallery/sets/internal/store"
)

// Options configure the GraphQL server.
type Options struct {
	Store           *store.Store
	Log             *slog.Logger
	ComplexityLimit int
	DepthLimit      int
	Introspection   bool
	// TrustedDocuments, if set, are the only documents that run (SPEC
	// §13); otherwise any document runs, and Automatic Persisted Queries
	// remember them by hash.
	TrustedDocuments *persisted.Documents
	// Media, if set, lets uploadSetImage store photos.
	Media *Media
	// Live, if set, serves subscriptions over WebSockets.
	Live *Live
	// MaxMultipartBytes bounds a multipart body. The body limit in front
	// of the handler is the one that answers; gqlgen's is set past it.
	MaxMultipartBytes int64
	// OnOperation, if set, hears each finished operation (for metrics).
	OnOperation func(ctx context.Context, name string, errs gqlerror.List, took time.Duration)
}

// parserTokenLimit bounds the work of parsing: the heaviest real query has
// a few hundred tokens, and without a limit 1,000 aliases parse happily.
const parserTokenLimit = 5_000

// NewServer returns the GraphQL handler with exactly the transports and
// extensions we chose: POST and GET, multipart uploads, subscriptions over
// WebSockets when Options.Live is set,
// persisted queries (APQ, or trusted documents only), a parsed-query
// cache, complexity and depth limits, and introspection only
// when asked for.
func NewServer(o Options) *handler.Server {
	cfg := Config{Resolvers: &Resolver{Store: o.Store, Log: o.Log, Media: o.Media, Live: o.Live}, Complexity: complexity()}
	srv := handler.New(NewExecutableSchema(cfg))
	srv.AddTransport(getQueries{})
	srv.AddTransport(postJSON{})
	// Uploads (importSets, uploadSetImage). The body's limit is internal/server's, which
	// answers 413 for both framings; gqlgen's own is set past it so that it
	// never answers first. Files above MaxMemory wait in temporary files.
	srv.AddTransport(multipartForm{transport.MultipartForm{MaxUploadSize: o.MaxMultipartBytes + 1, MaxMemory: 2 << 20}})
	if o.Live != nil {
		srv.AddTransport(socketTransport{live: o.Live, store: o.Store, log: o.Log, present: ErrorPresenter(o.Log)})
		srv.AroundResponses(freshLoaders(o.Store))
	}
	srv.Use(persistedQueries{cache: persisted.NewCache(apqCacheBytes, apqMaxDocument), trusted: o.TrustedDocuments})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(parserTokenLimit)
	srv.SetDisableSuggestion(!o.Introspection)
	if o.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(noIntrospection{})
	}
	srv.AroundOperations(cursorFirst(o.Store))
	srv.Use(depthLimit{max: o.DepthLimit})
	srv.Use(newComplexityLimit(o.ComplexityLimit))
	srv.SetErrorPresenter(ErrorPresenter(o.Log))
	srv.SetRecoverFunc(RecoverFunc(o.Log))
	if o.OnOperation != nil {
		srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
			start := time.Now()
			resp := next(ctx)
			name := ""
			if graphql.HasOperationContext(ctx) {
				// The operationName parameter is optional: most requests
				// name their operation only in the document.
				oc := graphql.GetOperationContext(ctx)
				name = oc.OperationName
				if oc.Operation != nil {
					name = oc.Operation.Name
				}
			}
			if resp != nil {
				o.OnOperation(ctx, name, resp.Errors, time.Since(start))
			}
			return resp
		})
	}
	return srv
}
