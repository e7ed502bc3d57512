package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/auth"
	"github.com/brickgallery/sets/internal/config"
	"github.com/brickgallery/sets/internal/media/mediatest"
	"github.com/brickgallery/sets/internal/testdb"
)

// crashServer is `sets serve` as a child process over one database and
// one media directory.
type crashServer struct {
	t     *testing.T
	dbURL string
	dir   string
	token string
}

// start runs a server that kills itself (SIGKILL) at crashAt ("" for
// never), and returns its base URL and the process.
func (c *crashServer) start(crashAt string) (string, *exec.Cmd) {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = append(append(os.Environ(), testdb.Environ(c.dbURL)...), childEnv+"=main", "ADDR="+addr,
		"MEDIA_STORE=file:"+c.dir, "SETS_TEST_CRASH_AT="+crashAt, "LOG_LEVEL=warn")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := "http://" + addr
	if strings.HasPrefix(crashAt, "janitor:") {
		return base, cmd // it may die before it answers
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return base, cmd
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("serve did not answer /healthz:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// post sends a GraphQL request, JSON or (with a photo) multipart, and
// decodes data into dst; it returns the transport error, if any.
func (c *crashServer) post(base, query string, vars map[string]any, photo []byte, dst any) error {
	var body bytes.Buffer
	contentType := "application/json"
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	if photo == nil {
		body.Write(ops)
	} else {
		mw := multipart.NewWriter(&body)
		mw.WriteField("operations", string(ops))
		mw.WriteField("map", `{"0":["variables.f"]}`)
		fw, _ := mw.CreateFormFile("0", "photo.jpg")
		fw.Write(photo)
		mw.Close()
		contentType = mw.FormDataContentType()
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", &body)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Data   json.RawMessage   `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		c.t.Fatalf("%s: %s", query, out.Errors)
	}
	if dst != nil {
		return json.Unmarshal(out.Data, dst)
	}
	return nil
}

const crashUpload = `mutation($s: UUID!, $f: Upload!) { uploadSetImage(setId: $s, file: $f) { id } }`

// killed waits for cmd and fails unless SIGKILL ended it.
func killed(t *testing.T, cmd *exec.Cmd, point string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: the server did not crash", point)
	}
	if !strings.Contains(cmd.ProcessState.String(), "killed") {
		t.Fatalf("%s: the server ended with %s, want SIGKILL", point, cmd.ProcessState)
	}
}

// TestCrashesLeaveOnlyWhatMediaGCRemoves kills the server (SIGKILL) at
// every step of an upload and of a deletion's removal, then runs
// `sets db media-gc`: the store holds exactly the files rows point at.
func TestCrashesLeaveOnlyWhatMediaGCRemoves(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t)
	db := testdb.Open(t, dbURL)
	user := uuid.New()
	token, err := auth.Mint(config.DevJWTSecret, user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c := &crashServer{t: t, dbURL: dbURL, dir: t.TempDir(), token: token}
	photo := mediatest.Photo(t, 640, 480)

	base, srv := c.start("")
	var created struct {
		CreateSet struct{ Set struct{ ID string } } `json:"createSet"`
	}
	if err := c.post(base, `mutation { createSet(input: {title: "Crash test"}) { set { id } } }`, nil, nil, &created); err != nil {
		t.Fatal(err)
	}
	set := created.CreateSet.Set.ID
	for range 3 {
		if err := c.post(base, crashUpload, map[string]any{"s": set, "f": nil}, photo, nil); err != nil {
			t.Fatal(err)
		}
	}
	srv.Process.Kill()
	srv.Wait()

	for _, point := range []string{"upload:after-file-1", "upload:after-file-2", "upload:after-row"} {
		base, srv := c.start(point)
		if err := c.post(base, crashUpload, map[string]any{"s": set, "f": nil}, photo, nil); err == nil {
			t.Fatalf("%s: the upload answered", point)
		}
		killed(t, srv, point)
	}
	// Two photos deleted in SQL while no server runs; the janitor dies
	// right after removing the first file, before it dequeues it.
	mustExecDB(t, db, `DELETE FROM set_images WHERE id IN (SELECT id FROM set_images ORDER BY created_at LIMIT 2)`)
	_, srv = c.start("janitor:after-remove")
	killed(t, srv, "janitor:after-remove")
	_, srv = c.start("")
	for deadline := time.Now().Add(20 * time.Second); queued(t, db) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d deletions still queued after a restart", queued(t, db))
		}
		time.Sleep(100 * time.Millisecond)
	}
	srv.Process.Kill()
	srv.Wait()

	before := files(t, c.dir)
	r := runCLIEnv(t, dbURL, []string{"MEDIA_STORE=file:" + c.dir}, "db", "media-gc", "--older-than", "0s")
	mustSucceed(t, r, "db media-gc")
	after, rows := files(t, c.dir), rowKeys(t, db)
	if !slices.Equal(after, rows) {
		t.Errorf("after media-gc the store holds %q, the rows point at %q", after, rows)
	}
	// Three kept uploads and the one whose row was written before the
	// crash, less the two deleted: two images, four files; the two
	// crashes before the row left three files without one.
	if len(rows) != 4 || len(before)-len(after) != 3 {
		t.Errorf("%d files for rows, %d removed by media-gc; want 4 and 3\n%s", len(rows), len(before)-len(after), r.Stdout)
	}
	if !strings.Contains(r.Stdout, fmt.Sprintf("%d files in the store, 3 without a row removed", len(before))) {
		t.Errorf("media-gc printed %q", r.Stdout)
	}
}

func mustExecDB(t *testing.T, db *bun.DB, query string) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), query); err != nil {
		t.Fatal(err)
	}
}

func queued(t *testing.T, db *bun.DB) int {
	t.Helper()
	var n int
	if err := db.NewRaw("SELECT count(*) FROM media_deletions").Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func rowKeys(t *testing.T, db *bun.DB) []string {
	t.Helper()
	var keys []string
	if err := db.NewRaw(`SELECT k FROM set_images, unnest(ARRAY[media_key, thumbnail_key]) AS k
		WHERE k IS NOT NULL ORDER BY k`).Scan(context.Background(), &keys); err != nil {
		t.Fatal(err)
	}
	return keys
}

// runCLIEnv is runCLI with more environment variables.
func runCLIEnv(t *testing.T, dbURL string, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(append(os.Environ(), childEnv+"=main"), testdb.Environ(dbURL)...), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return waitCLI(t, cmd, &stdout, &stderr)
}
