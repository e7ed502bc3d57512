//go:build s3

package media_test

import (
	"context"
	"strings"
	"testing"

	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/media/weedtest"
)

func TestS3Store(t *testing.T) {
	spec := weedtest.Bucket(t)
	st, err := media.OpenStore(context.Background(), spec, weedtest.Env)
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, st)
	// A prefix keeps the store's keys apart from the rest of the bucket.
	prefixed, err := media.OpenStore(context.Background(), strings.Replace(spec, "?", "/photos?", 1), weedtest.Env)
	if err != nil {
		t.Fatal(err)
	}
	storeContract(t, prefixed)
	if _, err := media.OpenStore(context.Background(), strings.Replace(spec, "s3://t-", "s3://missing-", 1), weedtest.Env); err == nil ||
		!strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a missing bucket: %v, want it named as missing", err)
	}
}
