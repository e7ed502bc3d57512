package model

import (
	"time"

	"github.com/google/uuid"
)

// CollectionChange is one entry of the change log as the API shows it; its
// set and wishlistItem are read by their resolvers, as they are now.
type CollectionChange struct {
	Cursor   string
	Kind     ChangeKind
	EntityID uuid.UUID
	At       time.Time
}

// ChangeConnection is one page of the change log.
type ChangeConnection struct {
	Nodes       []*CollectionChange
	EndCursor   string
	HasNextPage bool
}
