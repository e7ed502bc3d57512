package persisted_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/brickgallery/sets/internal/persisted"
)

const (
	meDoc   = `query WhoAmI { me { id } }`
	tagsDoc = `query Tags { tags { tag setCount } }`
)

func TestHash(t *testing.T) {
	// sha256("") as every tool prints it.
	if got, want := persisted.Hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("Hash(\"\") = %s, want %s", got, want)
	}
	if !persisted.IsHash(persisted.Hash(meDoc)) {
		t.Errorf("IsHash(Hash(...)) = false")
	}
	for _, s := range []string{"", "abc", strings.ToUpper(persisted.Hash(meDoc)), persisted.Hash(meDoc) + "0"} {
		if persisted.IsHash(s) {
			t.Errorf("IsHash(%q) = true, want false", s)
		}
	}
}

func TestParse(t *testing.T) {
	apollo := `{"format":"apollo-persisted-query-manifest","version":1,"operations":[
		{"id":"` + persisted.Hash(meDoc) + `","name":"WhoAmI","type":"query","body":"` + meDoc + `"},
		{"id":"` + persisted.Hash(tagsDoc) + `","name":"Tags","type":"query","body":"` + tagsDoc + `"}]}`
	plain := `{"` + persisted.Hash(meDoc) + `":"` + meDoc + `","` + persisted.Hash(tagsDoc) + `":"` + tagsDoc + `"}`
	for name, manifest := range map[string]string{"apollo": apollo, "plain": plain} {
		t.Run(name, func(t *testing.T) {
			d, err := persisted.Parse([]byte(manifest))
			if err != nil {
				t.Fatal(err)
			}
			if d.Len() != 2 {
				t.Errorf("Len() = %d, want 2", d.Len())
			}
			for _, doc := range []string{meDoc, tagsDoc} {
				if got, ok := d.ByHash(persisted.Hash(doc)); !ok || got != doc {
					t.Errorf("ByHash(Hash(%q)) = %q, %v", doc, got, ok)
				}
				if !d.Contains(doc) {
					t.Errorf("Contains(%q) = false", doc)
				}
			}
			if d.Contains(meDoc + " ") {
				t.Errorf("Contains matched a different text")
			}
		})
	}

	wrongID := strings.Replace(apollo, persisted.Hash(tagsDoc), persisted.Hash("something else"), 1)
	for _, tt := range []struct{ name, manifest, want string }{
		{"not JSON", `{"format":`, "not a JSON object"},
		{"an array", `[]`, "not a JSON object"},
		{"another format", `{"format":"relay","version":1,"operations":[]}`, `format "relay"`},
		{"another version", strings.Replace(apollo, `"version":1`, `"version":2`, 1), "version 2"},
		{"an id that is not the body's hash", wrongID, "operation 1 (Tags): id"},
		{"an md5 id", `{"0123456789abcdef0123456789abcdef":"` + meDoc + `"}`, "is not the SHA-256 of its document"},
		{"an empty body", `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"x","body":""}]}`, "empty document"},
		{"no documents", `{"format":"apollo-persisted-query-manifest","version":1,"operations":[]}`, "lists no documents"},
		{"an empty object", `{}`, "lists no documents"},
		{"a plain value that is not text", `{"` + persisted.Hash(meDoc) + `":1}`, "not a string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := persisted.Parse([]byte(tt.manifest))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := persisted.Load(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: got %v, want an error naming it", err)
	}
	path := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(path, []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := persisted.Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("bad JSON: got %v, want an error naming the file", err)
	}
}

func TestCache(t *testing.T) {
	hashLen := len(persisted.Hash(""))
	doc := func(c byte) string { return strings.Repeat(string(c), 100-hashLen) } // 100 bytes with its hash
	c := persisted.NewCache(300, 150)
	for _, ch := range []byte("abc") {
		if !c.Add(persisted.Hash(doc(ch)), doc(ch)) {
			t.Fatalf("Add(%c) not kept", ch)
		}
	}
	c.Get(persisted.Hash(doc('a'))) // b is now the least recently used
	c.Add(persisted.Hash(doc('d')), doc('d'))
	for ch, want := range map[byte]bool{'a': true, 'b': false, 'c': true, 'd': true} {
		if _, ok := c.Get(persisted.Hash(doc(ch))); ok != want {
			t.Errorf("Get(%c): got %v, want %v", ch, ok, want)
		}
	}
	if c.Len() != 3 {
		t.Errorf("Len() = %d, want 3 (300 bytes)", c.Len())
	}
	big := strings.Repeat("x", 200)
	if c.Add(persisted.Hash(big), big) {
		t.Errorf("a document over the per-document bound was kept")
	}
	if c.Len() != 3 {
		t.Errorf("Len() = %d after refusing a big document, want 3 (nothing evicted)", c.Len())
	}
}

// Requests share one cache: registering and reading at once must be safe
// (run with -race).
func TestCacheConcurrently(t *testing.T) {
	c := persisted.NewCache(2_000, 200)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				text := fmt.Sprintf("query Q%d_%d { me { id } }", g, i%30)
				if !c.Add(persisted.Hash(text), text) {
					t.Errorf("Add(%q) not kept", text)
					return
				}
				if got, ok := c.Get(persisted.Hash(text)); ok && got != text {
					t.Errorf("Get returned %q for the hash of %q", got, text)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := c.Len(); n == 0 || n > 2_000/64 {
		t.Errorf("Len() = %d, want at most %d entries in 2,000 bytes", n, 2_000/64)
	}
}
