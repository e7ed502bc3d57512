package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	createQuantity = `mutation($in: CreateSetInput!) { createSet(input: $in) { set { id quantity title isBuilt tags } } }`
	pageOf         = `query($n: Int) { sets(first: $n) { totalCount } }`
	themeFilter    = `query($t: String) { sets(filter: { theme: $t }) { totalCount } }`
	builtFilter    = `query($b: Boolean) { sets(filter: { isBuilt: $b }) { totalCount } }`
	tagsFilter     = `query($tags: [String!]) { sets(filter: { tags: $tags }) { totalCount } }`
)

// coercionCase is a document and its variables as raw JSON, so that 3, 3.0
// and "3" are sent exactly as a client wrote them. The field a refusal
// names is the argument's path when the scalar refuses the value (a string
// for an Int, a number for a String), and the variable's path when
// gqlparser's variable validation does (a fraction or a boolean for an
// Int, a string for a Boolean): the path of what the client sent either
// way, and what both have always named.
type coercionCase struct {
	name, query, vars string
	field             string // extensions.field of the refusal; "" when it must pass
}

// coercionCases follow the GraphQL spec's input coercion: a value of
// another JSON kind is refused, at the top level and inside input objects
// and lists alike; values of the right kind pass.
func coercionCases() []coercionCase {
	in := func(field, value string) string {
		return fmt.Sprintf(`{"in": {"title": "Coerced", %q: %s}}`, field, value)
	}
	return []coercionCase{
		{"Int in an input: string of digits", createQuantity, in("quantity", `"3"`), "input.quantity"},
		{"Int in an input: fraction", createQuantity, in("quantity", `3.5`), "in.quantity"},
		{"Int in an input: boolean", createQuantity, in("quantity", `true`), "in.quantity"},
		{"Int in an input: whole number as a fraction", createQuantity, in("quantity", `3.0`), "in.quantity"},
		{"Int in an input: exponent", createQuantity, in("quantity", `1e1`), "in.quantity"},
		{"Int in an input: over 32 bits", createQuantity, in("quantity", `2147483648`), "input.quantity"},
		{"Int in an input: integer", createQuantity, in("quantity", `3`), ""},
		{"String in an input: number", createQuantity, `{"in": {"title": 3}}`, "input.title"},
		{"String in an input: boolean", createQuantity, `{"in": {"title": true}}`, "in.title"},
		{"String in a list: number", createQuantity, `{"in": {"title": "Coerced", "tags": ["ucs", 3]}}`, "input.tags.1"},
		{"String in an input: string of digits", createQuantity, `{"in": {"title": "3"}}`, ""},
		{"Boolean in an input: string", createQuantity, in("isBuilt", `"true"`), "in.isBuilt"},
		{"Boolean in an input: number", createQuantity, in("isBuilt", `1`), "in.isBuilt"},
		{"Boolean in an input: boolean", createQuantity, in("isBuilt", `true`), ""},
		{"Int variable: string of digits", pageOf, `{"n": "3"}`, "first"},
		{"Int variable: fraction", pageOf, `{"n": 3.5}`, "n"},
		{"Int variable: boolean", pageOf, `{"n": true}`, "n"},
		{"Int variable: integer", pageOf, `{"n": 3}`, ""},
		{"String variable: number", themeFilter, `{"t": 3}`, "filter.theme"},
		{"String variable: boolean", themeFilter, `{"t": false}`, "t"},
		{"String variable: string", themeFilter, `{"t": "3"}`, ""},
		{"Boolean variable: string", builtFilter, `{"b": "true"}`, "b"},
		{"Boolean variable: number", builtFilter, `{"b": 0}`, "b"},
		{"Boolean variable: boolean", builtFilter, `{"b": false}`, ""},
		{"String list variable: number element", tagsFilter, `{"tags": ["ucs", 7]}`, "filter.tags.1"},
	}
}

// TestStrictInputCoercion sends each value over POST and, for queries,
// over GET: a refused one is BAD_USER_INPUT naming the variable's path,
// with a message saying what to send, and writes nothing.
func TestStrictInputCoercion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	h.warm(t, token)
	get := func(t *testing.T, c coercionCase) response {
		t.Helper()
		params := url.Values{"query": {c.query}, "variables": {c.vars}}
		req, err := http.NewRequest(http.MethodGet, h.srv.URL+"/graphql?"+params.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		return h.send(t, req)
	}
	created := 0
	for _, c := range coercionCases() {
		t.Run(c.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"query": %q, "variables": %s}`, c.query, c.vars)
			answers := map[string]response{"POST": h.postRaw(t, token, []byte(body), false)}
			if !strings.HasPrefix(c.query, "mutation") {
				answers["GET"] = get(t, c)
			}
			for method, r := range answers {
				if c.field == "" {
					mustOK(t, r, nil)
					continue
				}
				if r.Status != http.StatusOK {
					t.Errorf("%s: got %s, want HTTP 200 (bad input, as every BAD_USER_INPUT)", method, r)
				}
				e := mustFail(t, r, "BAD_USER_INPUT", c.field)
				if !strings.HasPrefix(e.Message, "not a") {
					t.Errorf("%s: message %q does not say what to send", method, e.Message)
				}
			}
			if c.field == "" && strings.HasPrefix(c.query, "mutation") {
				created++
			}
			mustNoWritesUnless(t, h, c.field == "")
			if n := h.count(t, "sets"); n != created {
				t.Errorf("sets: got %d rows, want %d (a refused value writes nothing)", n, created)
			}
		})
	}

	// A literal of the wrong kind in the document is the query's own
	// mistake, refused by validation before anything runs.
	t.Run("literal in the document", func(t *testing.T) {
		r := h.do(t, token, `mutation { createSet(input: { title: "x", quantity: "3" }) { set { id } } }`, nil)
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("got %s, want HTTP 422", r)
		}
		mustFail(t, r, "GRAPHQL_VALIDATION_FAILED", "")
		if n := h.count(t, "sets"); n != created {
			t.Errorf("sets: got %d rows, want %d", n, created)
		}
	})
}

// mustNoWritesUnless checks the statements of the request just made: a
// refused one wrote nothing.
func mustNoWritesUnless(t *testing.T, h *harness, accepted bool) {
	t.Helper()
	statements := h.rec.take()
	if !accepted {
		mustNoWrites(t, statements)
	}
}

// TestTokenLimit: a document past the parser's token limit is an
// over-limit query like any other (QUERY_TOO_COMPLEX, HTTP 200, no SQL),
// over POST and GET; one under it runs.
func TestTokenLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user, token := h.newUser(t)
	h.warm(t, token)
	aliases := func(n int) string {
		var b strings.Builder
		b.WriteString("{ me {")
		for i := range n {
			fmt.Fprintf(&b, " a%d: id", i)
		}
		b.WriteString(" } }")
		return b.String()
	}
	// Three tokens an alias (name, colon, field) and six around them.
	under, over := aliases(1_600), aliases(1_700)

	var data struct{ Me map[string]string }
	mustOK(t, h.do(t, token, under, nil), &data)
	if len(data.Me) != 1_600 || data.Me["a1599"] != user.String() {
		t.Errorf("under the limit: got %d fields, want 1,600 aliases of my id", len(data.Me))
	}
	h.rec.take()

	req, err := http.NewRequest(http.MethodGet, h.srv.URL+"/graphql?"+url.Values{"query": {over}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for method, r := range map[string]response{"POST": h.do(t, token, over, nil), "GET": h.send(t, req)} {
		if r.Status != http.StatusOK {
			t.Errorf("%s: got %s, want HTTP 200 as for the complexity limit", method, r)
		}
		e := mustFail(t, r, "QUERY_TOO_COMPLEX", "")
		if !strings.Contains(e.Message, "5000 tokens") {
			t.Errorf("%s: message %q does not name the limit", method, e.Message)
		}
	}
	if got := h.rec.take(); len(got) > 0 {
		t.Errorf("ran SQL before refusing: %q", got)
	}
}
