package media

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Store keeps files in a bucket of an S3-compatible store, through
// minio-go. MEDIA_STORE=s3://BUCKET[/PREFIX]?endpoint=HOST:PORT&region=R&tls=false,
// credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
type S3Store struct {
	client *minio.Client
	bucket string
	prefix string // "" or "photos/"
}

// NewS3Store opens the store spec names (s3://…, as above), and checks that
// its bucket exists, so that a wrong name stops the server at start rather
// than failing every upload.
func NewS3Store(ctx context.Context, spec string, getenv func(string) string) (*S3Store, error) {
	u, err := url.Parse(spec)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("%q is not s3://BUCKET[/PREFIX]?endpoint=HOST:PORT", spec)
	}
	q := u.Query()
	endpoint := q.Get("endpoint")
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	secure := q.Get("tls") != "false"
	client, err := minio.New(endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Secure: secure,
		Region: q.Get("region"),
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", endpoint, err)
	}
	s := &S3Store{client: client, bucket: u.Host, prefix: strings.Trim(u.Path, "/")}
	if s.prefix != "" {
		s.prefix += "/"
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ok, err := client.BucketExists(cctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("reach bucket %q at %s: %w", s.bucket, endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("bucket %q does not exist at %s", s.bucket, endpoint)
	}
	return s, nil
}

// Put uploads data; S3 makes an object visible whole or not at all.
func (s *S3Store) Put(ctx context.Context, key string, data []byte) error {
	if !ValidKey(key) {
		return fmt.Errorf("put %q: not a media key", key)
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: contentTypeOf(key), CacheControl: "public, max-age=31536000, immutable"})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Open returns the object, seekable (minio-go reads ranges on demand), so
// that byte ranges cost what they ask for.
func (s *S3Store) Open(ctx context.Context, key string) (*Object, error) {
	if !ValidKey(key) {
		return nil, ErrNotFound
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return &Object{ReadSeekCloser: obj, ContentType: contentTypeOf(key), Size: st.Size, ModTime: st.LastModified}, nil
}

// Delete removes the object; S3 answers success for a missing key too.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return nil
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List walks the bucket under the prefix.
func (s *S3Store) List(ctx context.Context, fn func(key string, written time.Time) error) error {
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("list media: %w", obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if !ValidKey(key) {
			continue
		}
		if err := fn(key, obj.LastModified); err != nil {
			return err
		}
	}
	return nil
}
