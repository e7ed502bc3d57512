// Package mediatest makes the photos tests upload: JPEGs as a phone writes
// them, EXIF segment included.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// Photo is a w × h JPEG whose left half is red and right half blue, so
// that a rotation can be seen in the output.
func Photo(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{200, 20, 20, 255}
			if x >= w/2 {
				c = color.RGBA{20, 20, 200, 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// WithEXIF inserts, after the JPEG's SOI marker, an APP1 EXIF segment as a
// phone writes one: the orientation, the camera's make and serial, and a
// GPS position.
func WithEXIF(t testing.TB, jpg []byte, orientation uint16) []byte {
	t.Helper()
	be := binary.BigEndian
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a")
	binary.Write(&tiff, be, uint32(8)) // IFD0 right after the header
	// IFD0: Orientation, Make, BodySerialNumber, GPSInfo; then the GPS IFD
	// and the strings.
	const ifd0Entries = 4
	ifd0End := 8 + 2 + ifd0Entries*12 + 4
	gpsEntries := 2
	gpsOff := ifd0End
	stringsOff := gpsOff + 2 + gpsEntries*12 + 4
	make_ := "SecretCam\x00"
	serial := "SN-0042-PRIVATE\x00"
	entry := func(tag, typ uint16, count, value uint32) {
		binary.Write(&tiff, be, tag)
		binary.Write(&tiff, be, typ)
		binary.Write(&tiff, be, count)
		binary.Write(&tiff, be, value)
	}
	binary.Write(&tiff, be, uint16(ifd0Entries))
	entry(0x0112, 3, 1, uint32(orientation)<<16) // SHORT, left-justified
	entry(0x010f, 2, uint32(len(make_)), uint32(stringsOff))
	entry(0xa431, 2, uint32(len(serial)), uint32(stringsOff+len(make_)))
	entry(0x8825, 4, 1, uint32(gpsOff))
	binary.Write(&tiff, be, uint32(0))
	binary.Write(&tiff, be, uint16(gpsEntries))
	entry(0x0001, 2, 2, uint32('N')<<24) // GPSLatitudeRef "N"
	entry(0x0003, 2, 2, uint32('E')<<24) // GPSLongitudeRef "E"
	binary.Write(&tiff, be, uint32(0))
	tiff.WriteString(make_)
	tiff.WriteString(serial)

	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xff, 0xe1, 0, 0}
	be.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}
