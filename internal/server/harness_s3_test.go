//go:build s3

package server_test

import (
	"context"
	"testing"

	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/media/weedtest"
)

// With -tags s3, every test of this package stores its photos in a bucket
// of its own on a real S3 server (SeaweedFS), through the S3 store.
func init() {
	testMediaStore = func(t *testing.T) media.Store {
		t.Helper()
		st, err := media.OpenStore(context.Background(), weedtest.Bucket(t), weedtest.Env)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}
