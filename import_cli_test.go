package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brickgallery/sets/internal/testdb"
)

// TestDBImportThenExport imports a Brickset export from the command line
// and checks what landed through the export command, then that the export
// imported into another account with ADD exports the same bytes.
func TestDBImportThenExport(t *testing.T) {
	dbURL := testdb.URL(t)
	db := testdb.Open(t, dbURL)
	fixture := filepath.Join("internal", "importer", "testdata", "brickset.csv")

	r := runCLI(t, dbURL, "db", "import", "--email", "new@example.com", "--dry-run", fixture)
	mustSucceed(t, r, "db import --dry-run")
	if !strings.Contains(r.Stdout, "BRICKSET_CSV: 5 rows read, would create (dry run, nothing written) 5, skipped 0") {
		t.Errorf("dry run printed %q", r.Stdout)
	}
	var n int
	if err := db.NewRaw("SELECT count(*) FROM sets").Scan(context.Background(), &n); err != nil || n != 0 {
		t.Fatalf("a dry run left %d sets (%v)", n, err)
	}

	r = runCLI(t, dbURL, "db", "import", "--email", "new@example.com", fixture)
	mustSucceed(t, r, "db import")
	if !strings.Contains(r.Stdout, "created 5, skipped 0") {
		t.Errorf("import printed %q", r.Stdout)
	}
	first := runCLI(t, dbURL, "db", "export", "--email", "new@example.com")
	mustSucceed(t, first, "db export")
	for _, title := range []string{"Millennium Falcon", "LEGO Titanic", "Tree House", "King's Castle"} {
		if !strings.Contains(first.Stdout, title) {
			t.Errorf("the export lacks %q:\n%s", title, first.Stdout)
		}
	}
	if _, err := db.NewRaw("DELETE FROM sets").Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "sets.csv")
	if err := os.WriteFile(file, []byte(first.Stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, runCLI(t, dbURL, "db", "import", "--email", "moved@example.com", "--mode", "add", file), "db import of the export")
	second := runCLI(t, dbURL, "db", "export", "--email", "moved@example.com")
	if second.Stdout != first.Stdout {
		t.Errorf("export, import, export differ:\n%s\nwant\n%s", second.Stdout, first.Stdout)
	}
}

func TestDBImportRefusals(t *testing.T) {
	dbURL := testdb.URL(t)
	bad := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(bad, []byte("Number,Variant,Name,Year\n1,1,A,19x9\n2,1,,2000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(t.TempDir(), "sets.csv")
	if err := os.WriteFile(zip, []byte("PK\x03\x04rest of an archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args       []string
		code       int
		msg, notIn string
	}{
		{[]string{"--email", "a@b.c", bad}, 1, `line 2, column Year: "19x9" is not a year`, ""},
		{[]string{"--email", "a@b.c", zip}, 1, "ZIP archive", ""},
		{[]string{"--email", "a@b.c", "--format", "xlsx", bad}, 2, `--format "xlsx" is not one of`, ""},
		{[]string{"--email", "a@b.c"}, 2, "needs one FILE", ""},
		{[]string{bad}, 2, "needs --email", ""},
		{[]string{"--email", "a@b.c", "/no/such/file"}, 1, "no such file", ""},
	} {
		r := runCLI(t, dbURL, append([]string{"db", "import"}, tc.args...)...)
		if r.Code != tc.code || !strings.Contains(r.Stderr, tc.msg) || r.Stdout != "" {
			t.Errorf("db import %v: exit %d, stderr %q, stdout %q; want exit %d and %q",
				tc.args, r.Code, r.Stderr, r.Stdout, tc.code, tc.msg)
		}
	}
	r := runCLI(t, dbURL, "db", "import", "--help")
	if r.Code != 0 || !strings.Contains(r.Stderr, "Usage: sets db import --email E") || !strings.Contains(r.Stderr, "-dry-run") {
		t.Errorf("--help: exit %d, stderr %q", r.Code, r.Stderr)
	}
}
