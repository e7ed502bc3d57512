package media_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/brickgallery/sets/internal/media"
)

// storeContract checks what the API needs of a media store.
func storeContract(t *testing.T, st media.Store) {
	ctx := context.Background()
	jpg, png := media.NewKey("image/jpeg"), media.NewKey("image/png")
	if !media.ValidKey(jpg) || !media.ValidKey(png) || jpg == png {
		t.Fatalf("keys %q and %q", jpg, png)
	}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	for _, k := range []string{jpg, png} {
		if err := st.Put(ctx, k, data); err != nil {
			t.Fatal(err)
		}
	}
	obj, err := st.Open(ctx, png)
	if err != nil {
		t.Fatal(err)
	}
	if obj.ContentType != "image/png" || obj.Size != int64(len(data)) || time.Since(obj.ModTime) > time.Minute {
		t.Errorf("object: %s, %d bytes, written %v", obj.ContentType, obj.Size, obj.ModTime)
	}
	if _, err := obj.Seek(5000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 10)
	if _, err := io.ReadFull(obj, part); err != nil || !bytes.Equal(part, data[5000:5010]) {
		t.Errorf("read at 5000: %q, %v", part, err)
	}
	obj.Close()
	var listed []string
	if err := st.List(ctx, func(key string, _ time.Time) error { listed = append(listed, key); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(listed)
	want := []string{jpg, png}
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("List = %q, want %q", listed, want)
	}
	if err := st.Delete(ctx, jpg); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, jpg); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if _, err := st.Open(ctx, jpg); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Open of a deleted key = %v, want ErrNotFound", err)
	}
	if _, err := st.Open(ctx, "../../etc/passwd"); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("Open of a non-key = %v, want ErrNotFound", err)
	}
	if err := st.Put(ctx, "../escape.jpg", data); err == nil {
		t.Errorf("Put took a non-key")
	}
}

func TestFileStore(t *testing.T) {
	st, err := media.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, st)
}
