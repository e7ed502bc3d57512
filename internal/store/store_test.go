package store_test

import (
	"context"
	"testing"

	"github.com/brickgallery/sets/internal/store"
	"github.com/brickgallery/sets/internal/testdb"
)

func TestUserByEmailOrCreate(t *testing.T) {
	t.Parallel()
	s := store.New(testdb.New(t), store.Options{NoPrepare: testdb.NoPrepare()})
	ctx := context.Background()
	a, err := s.UserByEmailOrCreate(ctx, "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.UserByEmailOrCreate(ctx, "a@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || a.CreatedAt.IsZero() {
		t.Errorf("second call got user %v (created %v), want the first %v", b.ID, b.CreatedAt, a.ID)
	}
}
