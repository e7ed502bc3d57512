package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/brickgallery/sets/internal/auth"
)

// client sends GraphQL requests to the balancer.
type client struct {
	api, secret string
	http        *http.Client
}

// user is a collector the load acts as.
type user struct {
	token string
	sets  []string
}

// The readers' data: enough users and sets that reads are not all one
// hot row, few enough to seed in a second or two.
const (
	seedUsers   = 20
	setsPerUser = 10
)

var themes = []string{"Star Wars", "Technic", "City", "Icons", "Ideas"}

// newUser mints a token for a user the server has not seen yet.
func (c *client) newUser() (*user, error) {
	tok, err := auth.Mint(c.secret, uuid.New(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	return &user{token: tok}, nil
}

// gqlFailure is a request the API answered, but not with data: an HTTP
// status other than 200 or GraphQL errors.
type gqlFailure struct {
	status int
	code   string
	msg    string
}

func (e *gqlFailure) Error() string {
	if e.code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.status, e.msg)
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, e.code)
}

// post runs query as u and decodes its data into dst (when not nil).
func (c *client) post(ctx context.Context, u *user, query string, vars map[string]any, dst any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+u.token)
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var out struct {
		Data   json.RawMessage
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	if err := json.Unmarshal(b, &out); err != nil {
		// HAProxy's own 502/503 pages are HTML.
		return &gqlFailure{status: res.StatusCode, msg: "not a GraphQL response"}
	}
	if res.StatusCode != http.StatusOK || len(out.Errors) > 0 {
		f := &gqlFailure{status: res.StatusCode}
		if len(out.Errors) > 0 {
			f.code, f.msg = out.Errors[0].Extensions.Code, out.Errors[0].Message
		}
		return f
	}
	if dst != nil {
		return json.Unmarshal(out.Data, dst)
	}
	return nil
}

const createSetMutation = `mutation($in: CreateSetInput!) { createSet(input: $in) { set { id } } }`

// createSet creates a set with input as u and returns its id.
func (c *client) createSet(ctx context.Context, u *user, input map[string]any) (string, error) {
	var d struct {
		CreateSet struct{ Set struct{ ID string } }
	}
	if err := c.post(ctx, u, createSetMutation, map[string]any{"in": input}, &d); err != nil {
		return "", err
	}
	if d.CreateSet.Set.ID == "" {
		return "", fmt.Errorf("createSet answered no id")
	}
	return d.CreateSet.Set.ID, nil
}

// seed creates n users with perUser sets each, spread over the themes.
func (c *client) seed(ctx context.Context, n, perUser int) ([]*user, error) {
	users := make([]*user, n)
	for i := range users {
		u, err := c.newUser()
		if err != nil {
			return nil, err
		}
		for j := range perUser {
			id, err := c.createSet(ctx, u, map[string]any{
				"title": fmt.Sprintf("Seeded %d-%d", i, j), "theme": themes[j%len(themes)],
				"pieceCount": rand.N(5000), "purchasePrice": fmt.Sprintf("%d.99", rand.N(500)),
			})
			if err != nil {
				return nil, err
			}
			u.sets = append(u.sets, id)
		}
		users[i] = u
	}
	return users, nil
}

// The readers' queries: a gallery page of a theme with photos and the
// total (Q1-like), one set (Q2-like), the themes (Q3-like).
const (
	galleryQuery = `query($theme: String) { sets(filter: {theme: $theme}, first: 20) { totalCount nodes { id title theme pieceCount totalCost images { imageUrl } } } }`
	setQuery     = `query($id: UUID!) { set(id: $id) { id title theme pieceCount images { imageUrl } } }`
	themesQuery  = `{ themes { theme setCount pieceCount } }`
)

// randomRead runs one of the readers' queries as a random seeded user.
func (c *client) randomRead(ctx context.Context, users []*user) error {
	u := users[rand.N(len(users))]
	switch rand.N(3) {
	case 0:
		return c.post(ctx, u, galleryQuery, map[string]any{"theme": themes[rand.N(len(themes))]}, nil)
	case 1:
		return c.post(ctx, u, setQuery, map[string]any{"id": u.sets[rand.N(len(u.sets))]}, nil)
	default:
		return c.post(ctx, u, themesQuery, nil, nil)
	}
}
