package media_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/brickgallery/sets/internal/media"
	"github.com/brickgallery/sets/internal/media/mediatest"
)

func decode(t *testing.T, im media.Image) image.Image {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(im.Data))
	if err != nil {
		t.Fatalf("the output does not decode: %v", err)
	}
	if "image/"+format != im.ContentType {
		t.Errorf("content type %s for a %s", im.ContentType, format)
	}
	if b := img.Bounds(); b.Dx() != im.Width || b.Dy() != im.Height {
		t.Errorf("says %d × %d, is %d × %d", im.Width, im.Height, b.Dx(), b.Dy())
	}
	return img
}

func TestPhoneProcessing(t *testing.T) {
	p := media.NewProcessor(0)
	// 3000 × 1000, stored sideways: orientation 6 means "rotate 90° clockwise to view".
	src := mediatest.WithEXIF(t, mediatest.Photo(t, 3000, 1000), 6)
	if !bytes.Contains(src, []byte("SecretCam")) {
		t.Fatal("the fixture lacks its EXIF")
	}
	res, err := p.Process(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	d, th := res.Display, res.Thumbnail
	if d.Width != 682 || d.Height != 2048 || th.Width != 133 || th.Height != 400 {
		t.Errorf("display %d × %d and thumbnail %d × %d, want 682 × 2048 and 133 × 400 (turned upright, fitted)",
			d.Width, d.Height, th.Width, th.Height)
	}
	img := decode(t, d)
	decode(t, th)
	// Upright, the red half is on top.
	if r, _, b, _ := img.At(d.Width/2, d.Height/4).RGBA(); r < b {
		t.Errorf("the top is not red: the orientation was not applied")
	}
	for _, out := range [][]byte{d.Data, th.Data} {
		for _, secret := range []string{"Exif", "SecretCam", "SN-0042", "XMP"} {
			if bytes.Contains(out, []byte(secret)) {
				t.Errorf("an output still holds %q", secret)
			}
		}
		if d.ContentType != "image/jpeg" {
			t.Errorf("an opaque photo came out as %s", d.ContentType)
		}
	}
}

func TestSmallImagesAreNotEnlarged(t *testing.T) {
	res, err := media.NewProcessor(1).Process(context.Background(), mediatest.Photo(t, 300, 200))
	if err != nil {
		t.Fatal(err)
	}
	if res.Display.Width != 300 || res.Display.Height != 200 || res.Thumbnail.Width != 300 {
		t.Errorf("display %d × %d, thumbnail %d wide; want 300 × 200 both", res.Display.Width, res.Display.Height, res.Thumbnail.Width)
	}
}

func TestTransparencyStaysPNG(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 800, 600))
	img.Set(10, 10, color.NRGBA{255, 0, 0, 128})
	var buf bytes.Buffer
	png.Encode(&buf, img)
	res, err := media.NewProcessor(1).Process(context.Background(), buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if res.Display.ContentType != "image/png" || res.Thumbnail.ContentType != "image/png" {
		t.Errorf("a transparent PNG came out as %s / %s", res.Display.ContentType, res.Thumbnail.ContentType)
	}
	decode(t, res.Display)
	// An opaque PNG becomes a JPEG.
	buf.Reset()
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 50, 50)))
	if res, err := media.NewProcessor(1).Process(context.Background(), buf.Bytes()); err != nil || res.Display.ContentType != "image/jpeg" {
		t.Errorf("an opaque PNG: %v, %v; want a JPEG", res, err)
	}
}

// hugePNG is a valid PNG header (and nothing more) announcing w × h.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.WriteString("IHDR")
	b.Write(ihdr)
	crc := crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...))
	binary.Write(&b, binary.BigEndian, crc)
	return b.Bytes()
}

func TestRefusals(t *testing.T) {
	p := media.NewProcessor(1)
	jpg := mediatest.Photo(t, 64, 64)
	tests := []struct {
		name   string
		file   []byte
		phrase string
	}{
		{"a GIF", []byte("GIF89a\x01\x00\x01\x00"), "GIF"},
		{"a HEIC photo", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"), "HEIC"},
		{"an SVG", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), "SVG"},
		{"a PDF", []byte("%PDF-1.7\n"), "PDF"},
		{"text named .jpg", []byte("hello, I am a photo"), "not an image"},
		{"an empty file", nil, "empty"},
		{"a truncated JPEG", jpg[:len(jpg)/2], "truncated or corrupt JPEG"},
		{"a corrupt PNG", []byte("\x89PNG\r\n\x1a\nnot really"), "truncated or corrupt PNG"},
		{"100,000 × 100,000 pixels", hugePNG(100_000, 100_000), "10000 megapixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Process(context.Background(), tt.file)
			if !rejected(err) || !strings.Contains(err.Error(), tt.phrase) {
				t.Fatalf("Process = %v, want a refusal mentioning %q", err, tt.phrase)
			}
			if !strings.Contains(err.Error(), "JPEG, PNG or WebP") && !strings.Contains(err.Error(), "megapixels") {
				t.Errorf("%q does not say what is accepted", err)
			}
		})
	}
}

// TestHugeHeaderCostsNothing: a few bytes announcing 10 gigapixels are
// refused from the header, before any allocation of pixels.
func TestHugeHeaderCostsNothing(t *testing.T) {
	p := media.NewProcessor(1)
	file := hugePNG(100_000, 100_000)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := p.Process(context.Background(), file); !rejected(err) {
			t.Fatal(err)
		}
	})
	if allocs > 50 {
		t.Errorf("%.0f allocations to refuse a header: pixels were allocated", allocs)
	}
}

func TestProcessingWaitsForASlot(t *testing.T) {
	p := media.NewProcessor(1)
	src := mediatest.Photo(t, 2500, 2500)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	done := make(chan error, 8)
	for range 8 {
		go func() { _, err := p.Process(ctx, src); done <- err }()
	}
	canceled := 0
	for range 8 {
		if err := <-done; err == context.DeadlineExceeded {
			canceled++
		}
	}
	if canceled == 0 {
		t.Errorf("eight uploads on one slot with a 1 ms deadline: none waited")
	}
}

// rejected reports whether err is a refusal of the upload itself.
func rejected(err error) bool {
	var r *media.Rejected
	return errors.As(err, &r)
}

// TestWebP: WebP photos (made by ImageMagick; Go has no WebP encoder) are
// taken, and come out as JPEG, or as PNG when they have transparency.
func TestWebP(t *testing.T) {
	p := media.NewProcessor(1)
	for file, want := range map[string]string{"photo.webp": "image/jpeg", "transparent.webp": "image/png"} {
		data, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Process(context.Background(), data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if res.Display.ContentType != want {
			t.Errorf("%s came out as %s, want %s", file, res.Display.ContentType, want)
		}
		decode(t, res.Display)
	}
}
