// Package graph is the GraphQL layer: thin resolvers over internal/store,
// the error presenter, complexity rules and the HTTP handler around gqlgen.
package graph

//go:generate go tool gqlgen generate

import (
	"log/slog"

	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/store"
)

// Resolver holds the resolvers' dependencies; one serves every request.
type Resolver struct {
	Store *store.Store
	Log   *slog.Logger
	Media *Media
	Live  *Live
}

// Media is what uploadSetImage needs; nil turns uploads off.
type Media struct {
	Processor *media.Processor
	Store     media.Store
	// URL is the absolute URL of a stored file.
	URL func(key string) string
	// MaxBytes bounds an uploaded file.
	MaxBytes int64
}
