// Package persisted holds the documents a client may address by hash
// instead of sending their text (SPEC §13): a trusted-documents manifest,
// read and checked once at start, and the bounded per-process cache behind
// Automatic Persisted Queries.
//
// A document's hash is the SHA-256 of its exact text, in lowercase hex, as
// Apollo's clients and manifest generator compute it.
package persisted

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
)

// Hash returns the hash that addresses text.
func Hash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// IsHash reports whether s has the shape of a hash: 64 lowercase hex digits.
func IsHash(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ManifestFormat is the "format" of the manifests Apollo's
// generate-persisted-query-manifest writes.
const ManifestFormat = "apollo-persisted-query-manifest"

// Documents are the trusted documents of a manifest, addressable both by
// hash and by text. They are read-only once loaded, so requests share them
// without locking.
type Documents struct {
	byHash map[string]string
	// byText lets a client that sends the full text of a trusted document
	// run it without the server hashing the text on every request.
	byText map[string]struct{}
}

// ByHash returns the document whose hash is hash.
func (d *Documents) ByHash(hash string) (string, bool) {
	text, ok := d.byHash[hash]
	return text, ok
}

// Contains reports whether text is, byte for byte, a trusted document.
func (d *Documents) Contains(text string) bool {
	_, ok := d.byText[text]
	return ok
}

// Len returns how many documents there are (none without a manifest).
func (d *Documents) Len() int {
	if d == nil {
		return 0
	}
	return len(d.byHash)
}

// Load reads the manifest at path (see Parse).
func Load(path string) (*Documents, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	docs, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return docs, nil
}

// Parse reads a manifest in either of two formats:
//   - Apollo's: {"format": "apollo-persisted-query-manifest", "version": 1,
//     "operations": [{"id": HASH, "name": …, "type": …, "body": TEXT}]};
//   - a plain object {HASH: TEXT}, as Relay's compiler and GraphQL Codegen's
//     persisted documents write it (with SHA-256 chosen as the algorithm).
//
// Every hash must be the SHA-256 of its text: a manifest made with another
// algorithm, or edited by hand, is refused as a whole rather than leaving
// some documents unreachable.
func Parse(data []byte) (*Documents, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	var entries []entry
	var err error
	if _, ok := probe["format"]; ok {
		entries, err = parseApollo(data)
	} else {
		entries, err = parsePlain(probe)
	}
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		// Every request would be refused: surely not what was meant.
		return nil, errors.New("lists no documents")
	}
	d := &Documents{byHash: make(map[string]string, len(entries)), byText: make(map[string]struct{}, len(entries))}
	for _, e := range entries {
		if e.text == "" {
			return nil, fmt.Errorf("%s: empty document", e.where)
		}
		if got := Hash(e.text); got != e.hash {
			return nil, fmt.Errorf("%s: id %q is not the SHA-256 of its document (that is %s)", e.where, e.hash, got)
		}
		d.byHash[e.hash] = e.text
		d.byText[e.text] = struct{}{}
	}
	return d, nil
}

// entry is one document of a manifest, with where it is for messages.
type entry struct {
	where, hash, text string
}

func parseApollo(data []byte) ([]entry, error) {
	var m struct {
		Format     string
		Version    int
		Operations []struct {
			ID   string
			Name string
			Body string
		}
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not an Apollo persisted query manifest: %w", err)
	}
	if m.Format != ManifestFormat || m.Version != 1 {
		return nil, fmt.Errorf("format %q version %d: want %q version 1, or a plain {hash: document} object",
			m.Format, m.Version, ManifestFormat)
	}
	entries := make([]entry, len(m.Operations))
	for i, op := range m.Operations {
		where := fmt.Sprintf("operation %d", i)
		if op.Name != "" {
			where += " (" + op.Name + ")"
		}
		entries[i] = entry{where: where, hash: op.ID, text: op.Body}
	}
	return entries, nil
}

func parsePlain(m map[string]json.RawMessage) ([]entry, error) {
	hashes := make([]string, 0, len(m))
	for h := range m {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes) // the first bad entry is the same on every start
	entries := make([]entry, len(hashes))
	for i, h := range hashes {
		var text string
		if err := json.Unmarshal(m[h], &text); err != nil {
			return nil, fmt.Errorf("document %q: not a string (want {hash: document}, or Apollo's manifest format)", h)
		}
		entries[i] = entry{where: fmt.Sprintf("document %q", h), hash: h, text: text}
	}
	return entries, nil
}
