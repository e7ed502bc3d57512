package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brickgallery/sets/internal/persisted"
)

// unreachableDatabase is where a server that got past its configuration
// would fail instead, with a message of its own.
const unreachableDatabase = "postgres://postgres@127.0.0.1:1/none?sslmode=disable"

// A bad trusted-documents manifest stops `sets serve` before it touches the
// database, with exit code 1 and a message naming the variable and the fault.
func TestServeRefusesABadManifest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const doc = `query WhoAmI { me { id } }`
	for _, tt := range []struct{ name, path, want string }{
		{"missing file", filepath.Join(dir, "missing.json"), "no such file"},
		{"bad JSON", write("bad.json", `{"format": "apollo-persisted-query-manifest",`), "not a JSON object"},
		{"id not the body's hash", write("wrong.json", `{"format":"apollo-persisted-query-manifest","version":1,"operations":[
			{"id":"`+persisted.Hash("another document")+`","name":"WhoAmI","type":"query","body":"`+doc+`"}]}`),
			"operation 0 (WhoAmI): id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, unreachableDatabase, "serve", "--addr", "127.0.0.1:0", "--trusted-documents", tt.path)
			if r.Code != 1 || !strings.Contains(r.Stderr, "TRUSTED_DOCUMENTS") || !strings.Contains(r.Stderr, tt.want) {
				t.Errorf("got exit code %d, stderr:\n%s\nwant exit code 1 and a message with TRUSTED_DOCUMENTS and %q", r.Code, r.Stderr, tt.want)
			}
		})
	}
	t.Run("from the environment", func(t *testing.T) {
		t.Parallel()
		env := map[string]string{"TRUSTED_DOCUMENTS": filepath.Join(dir, "missing.json"), "DATABASE_URL": unreachableDatabase}
		err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "TRUSTED_DOCUMENTS") {
			t.Errorf("got %v, want a TRUSTED_DOCUMENTS error", err)
		}
	})
}
