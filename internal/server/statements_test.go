package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/brickgallery/sets/models"
)

// mustInsertImages gives each set n images, written straight into the
// database, with URLs naming their set and position.
func (h *harness) mustInsertImages(t *testing.T, sets []*models.Set, n int) {
	t.Helper()
	var images []*models.SetImage
	for _, s := range sets {
		for p := range n {
			// Positions in reverse of insertion, so database order is not
			// display order.
			pos := int32(n - 1 - p)
			images = append(images, &models.SetImage{SetID: s.ID, Position: pos,
				ImageURL: fmt.Sprintf("https://img.example/%s/%d.jpg", s.ID, pos)})
		}
	}
	if _, err := h.check.NewInsert().Model(&images).Exec(t.Context()); err != nil {
		t.Fatalf("insert images: %v", err)
	}
}

const galleryQuery = `query Gallery($first: Int, $theme: String) {
	sets(first: $first, filter: {theme: $theme}) {
		totalCount
		pageInfo { hasNextPage hasPreviousPage endCursor }
		edges { cursor node { id title theme images { id setId imageUrl position } } }
		nodes { id images { id setId imageUrl position } }
	} }`

// TestGalleryStatementCount: a gallery page costs the same three statements
// (the page, every image of the page, its count), sent in one round trip,
// whether it holds 5 sets or 50, and each set gets its own images, in
// position order.
func TestGalleryStatementCount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	sets := galleryFixture(user, 60)
	for _, s := range sets {
		s.Theme = ptr("city")
	}
	sets[0].Theme = ptr("space")
	h.mustInsertSets(t, sets...)
	h.mustInsertImages(t, sets[:55], 3) // the last sets have none: an empty list
	h.warm(t, token)

	type image struct {
		ID, SetID, ImageURL string
		Position            int
	}
	for _, size := range []int{5, 50, 59, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var data struct {
				Sets struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							ID     string
							Images []image
						}
					}
					Nodes []struct {
						ID     string
						Images []image
					}
				}
			}
			// A few times over: how the scheduler spreads the per-set image
			// loads in time varies from run to run.
			for range 5 {
				mustOK(t, h.do(t, token, galleryQuery, map[string]any{"first": size, "theme": "city"}), &data)
				statements, trips := h.rec.takeAll()
				if len(statements) != 3 || trips != 1 {
					t.Fatalf("a page of %d sets ran %d statements in %d round trips, want 3 (page, images, count) in 1:\n%s",
						size, len(statements), trips, strings.Join(statements, "\n"))
				}
			}
			if got, want := len(data.Sets.Edges), min(size, 59); got != want || data.Sets.TotalCount != 59 {
				t.Errorf("got %d sets of %d, want %d of 59", got, data.Sets.TotalCount, want)
			}
			for i, e := range data.Sets.Edges {
				var want []image
				if n := h.imagesOf(e.Node.ID, sets); n > 0 {
					for p := range n {
						want = append(want, image{SetID: e.Node.ID, Position: p,
							ImageURL: fmt.Sprintf("https://img.example/%s/%d.jpg", e.Node.ID, p)})
					}
				} else {
					want = []image{}
				}
				got := e.Node.Images
				for j := range got {
					got[j].ID = ""
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("images of set %s (-want +got):\n%s", e.Node.ID, diff)
				}
				if n := data.Sets.Nodes[i]; n.ID != e.Node.ID || len(n.Images) != len(got) {
					t.Errorf("node %d: got %s with %d images, want the edge's %s with %d", i, n.ID, len(n.Images), e.Node.ID, len(got))
				}
			}
		})
	}

	t.Run("no images, no count", func(t *testing.T) {
		mustOK(t, h.do(t, token, `{ sets(first: 50) { nodes { id title } pageInfo { hasNextPage } } }`, nil), nil)
		if got := h.rec.take(); len(got) != 1 {
			t.Errorf("ran %d statements, want 1 (the page):\n%s", len(got), strings.Join(got, "\n"))
		}
	})
	t.Run("one set", func(t *testing.T) {
		mustOK(t, h.do(t, token, `query($id: UUID!) { set(id: $id) { id images { id } } }`, map[string]any{"id": sets[1].ID}), nil)
		if got, trips := h.rec.takeAll(); len(got) != 2 || trips != 1 {
			t.Errorf("ran %d statements in %d round trips, want 2 (the set, its images) in 1:\n%s",
				len(got), trips, strings.Join(got, "\n"))
		}
	})
}

// imagesOf returns how many images the fixture gave set id.
func (h *harness) imagesOf(id string, sets []*models.Set) int {
	for i, s := range sets {
		if s.ID == uuid.MustParse(id) {
			if i < 55 {
				return 3
			}
			return 0
		}
	}
	return -1
}
