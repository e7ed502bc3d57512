// Package media turns an uploaded photo into what the API serves (SPEC
// §8): the file's type recognised from its bytes, its size refused from its
// header before any pixel is decoded, the EXIF orientation applied, a
// display image and a thumbnail written afresh from the pixels, so that no
// metadata (GPS position, camera serial, EXIF, XMP) survives.
package media

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"runtime"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/webp" // registers WebP with image.DecodeConfig and image.Decode
)

// Limits of SPEC §8.
const (
	MaxPixels   = 50_000_000
	DisplaySide = 2048 // the display image's longest side, at most
	ThumbSide   = 400  // the thumbnail's
)

// jpegQuality is the display image's and the thumbnail's: photos look the
// same as at 90 for a third less bytes.
const jpegQuality = 85

// Accepted names what an upload may be, for messages.
const Accepted = "a JPEG, PNG or WebP image"

// Rejected is an upload that is not an image we take, with a message a
// person can act on.
type Rejected struct{ Message string }

func (e *Rejected) Error() string { return e.Message }

func reject(format string, args ...any) error {
	return &Rejected{Message: fmt.Sprintf(format, args...)}
}

// Image is one encoded output.
type Image struct {
	Data          []byte
	ContentType   string
	Width, Height int
}

// Result is what an upload becomes.
type Result struct {
	Display, Thumbnail Image
}

// Processor decodes uploads, a bounded number at a time: a 12-megapixel
// photo is 48 MB of pixels once decoded, so the bound, not the number of
// uploads in flight, sets the memory.
type Processor struct {
	slots chan struct{}
}

// NewProcessor returns a Processor that decodes n images at once (n < 1:
// one per core).
func NewProcessor(n int) *Processor {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Processor{slots: make(chan struct{}, n)}
}

// Process checks data and makes the display image and the thumbnail. A
// *Rejected says why the file is not taken; other errors are the caller's
// context ending.
func (p *Processor) Process(ctx context.Context, data []byte) (*Result, error) {
	kind, err := sniff(data)
	if err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, reject("the file is a truncated or corrupt %s: send %s", kind, Accepted)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > MaxPixels || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, reject("the image is %d × %d pixels (%.0f megapixels); at most %d megapixels are taken",
			cfg.Width, cfg.Height, float64(px)/1e6, MaxPixels/1_000_000)
	}
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.slots }()
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return nil, reject("the file is a truncated or corrupt %s: send %s", kind, Accepted)
	}
	display := fit(img, DisplaySide)
	thumb := fit(display, ThumbSide)
	// A JPEG has no alpha; anything else keeps PNG when a pixel is not
	// opaque.
	opaque := kind == "JPEG" || isOpaque(display)
	res := &Result{}
	if res.Display, err = encode(display, opaque); err != nil {
		return nil, err
	}
	if res.Thumbnail, err = encode(thumb, opaque); err != nil {
		return nil, err
	}
	return res, nil
}

// fit scales img down so that its longest side is at most side, never up.
func fit(img image.Image, side int) image.Image {
	b := img.Bounds()
	if b.Dx() <= side && b.Dy() <= side {
		return img
	}
	return imaging.Fit(img, side, side, imaging.Lanczos)
}

func isOpaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

func encode(img image.Image, opaque bool) (Image, error) {
	var buf bytes.Buffer
	out := Image{ContentType: "image/png", Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}
	var err error
	if opaque {
		out.ContentType = "image/jpeg"
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		return Image{}, fmt.Errorf("encode %s: %w", out.ContentType, err)
	}
	out.Data = buf.Bytes()
	return out, nil
}

// sniff recognises an accepted image from its first bytes, and names
// what it is when it is not one.
func sniff(data []byte) (string, error) {
	has := func(off int, magic string) bool {
		return len(data) >= off+len(magic) && string(data[off:off+len(magic)]) == magic
	}
	switch {
	case has(0, "\xff\xd8\xff"):
		return "JPEG", nil
	case has(0, "\x89PNG\r\n\x1a\n"):
		return "PNG", nil
	case has(0, "RIFF") && has(8, "WEBP"):
		return "WebP", nil
	}
	what := "not an image we can read"
	switch {
	case len(data) == 0:
		what = "empty"
	case has(0, "GIF8"):
		what = "a GIF"
	case has(4, "ftypheic"), has(4, "ftypheix"), has(4, "ftypmif1"), has(4, "ftyphevc"):
		what = "a HEIC photo (iPhones' default: choose \"Most Compatible\" or share as JPEG)"
	case has(0, "%PDF"):
		what = "a PDF document"
	case bytes.Contains(data[:min(len(data), 512)], []byte("<svg")):
		what = "an SVG drawing"
	}
	return "", reject("the file is %s: send %s", what, Accepted)
}
