package bench_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"testing"

	"github.com/brickgallery/sets/internal/media"
)

// BenchmarkImagePipeline is one upload's processing (SPEC §8): sniff,
// header check, decode, EXIF orientation, the display image (2048 px) and
// the thumbnail (400 px), both encoded. The photo is MEDIA_BENCH_IMAGE
// (bench/images.sh passes the 12-megapixel JPEG it also gives ImageMagick),
// or else a synthetic 4032 × 3024 one.
func BenchmarkImagePipeline(b *testing.B) {
	data := benchPhoto(b)
	p := media.NewProcessor(1)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Process(context.Background(), data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPhoto(b *testing.B) []byte {
	if path := os.Getenv("MEDIA_BENCH_IMAGE"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	img := image.NewRGBA(image.Rect(0, 0, 4032, 3024))
	for y := range 3024 {
		for x := range 4032 {
			img.Set(x, y, color.RGBA{uint8(x ^ y), uint8(x * y >> 8), uint8(y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
