package media

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Store keeps the files of uploaded photos by key.
type Store interface {
	// Put stores data under key, whole or not at all.
	Put(ctx context.Context, key string, data []byte) error
	// Open returns the object under key; ErrNotFound when there is none.
	Open(ctx context.Context, key string) (*Object, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List hands fn every key the store holds, with when it was written.
	List(ctx context.Context, fn func(key string, written time.Time) error) error
}

// Object is a stored file, open for reading.
type Object struct {
	io.ReadSeekCloser
	ContentType string
	Size        int64
	ModTime     time.Time
}

// ErrNotFound is an Open of a key the store does not hold.
var ErrNotFound = errors.New("no such media")

// keyEncoding writes keys in lower case with no padding: 160 random bits
// are 32 characters.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// keyPattern is every key NewKey makes, and nothing else: a request for
// anything else is answered 404 without touching the store.
var keyPattern = regexp.MustCompile(`^[a-z2-7]{32}\.(jpg|png)$`)

// NewKey returns a fresh key for a file of contentType: 160 random bits,
// so that a photo's URL is a capability no one can guess or list (SPEC §8).
func NewKey(contentType string) string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Errorf("crypto/rand: %w", err)) // never fails on Linux
	}
	ext := ".jpg"
	if contentType == "image/png" {
		ext = ".png"
	}
	return keyEncoding.EncodeToString(b[:]) + ext
}

// ValidKey reports whether key is one NewKey could have made.
func ValidKey(key string) bool { return keyPattern.MatchString(key) }

// contentTypeOf is the type of the file a key names, from its extension.
func contentTypeOf(key string) string {
	if strings.HasSuffix(key, ".png") {
		return "image/png"
	}
	return "image/jpeg"
}

// OpenStore returns the store MEDIA_STORE names: file:DIR, or
// s3://BUCKET[/PREFIX]?endpoint=…, its credentials from getenv.
func OpenStore(ctx context.Context, spec string, getenv func(string) string) (Store, error) {
	switch {
	case strings.HasPrefix(spec, "file:"):
		return NewFileStore(strings.TrimPrefix(spec, "file:"))
	case strings.HasPrefix(spec, "s3://"):
		return NewS3Store(ctx, spec, getenv)
	}
	return nil, fmt.Errorf("%q is neither file:DIR nor s3://BUCKET", spec)
}

// FileStore keeps files in a directory of the local file system.
type FileStore struct{ dir string }

// NewFileStore returns a store in dir, creating it if missing.
func NewFileStore(dir string) (*FileStore, error) {
	if dir == "" {
		return nil, errors.New("file: needs a directory, as in file:./media")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create media directory: %w", err)
	}
	return &FileStore{dir: dir}, nil
}

func (s *FileStore) path(key string) (string, error) {
	if !ValidKey(key) {
		return "", ErrNotFound
	}
	return filepath.Join(s.dir, key), nil
}

// Put writes data to a temporary file and renames it into place, so that
// a crash never leaves half a photo under its key.
func (s *FileStore) Put(_ context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return fmt.Errorf("put %q: not a media key", key)
	}
	f, err := os.CreateTemp(s.dir, ".put-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Open opens the file under key.
func (s *FileStore) Open(_ context.Context, key string) (*Object, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return &Object{ReadSeekCloser: f, ContentType: contentTypeOf(key), Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Delete removes the file under key.
func (s *FileStore) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List walks the directory; files that are not media keys (a temporary
// file of a Put in progress) are left out.
func (s *FileStore) List(ctx context.Context, fn func(key string, written time.Time) error) error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list media: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !ValidKey(e.Name()) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("list media: %w", err)
		}
		if err := fn(e.Name(), info.ModTime()); err != nil {
			return err
		}
	}
	return nil
}
