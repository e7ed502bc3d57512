package model

import (
	"bytes"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"

	"github.com/brickgallery/sets/graph/scalar"
)

// appendString must write exactly what gqlgen's String marshaller writes,
// or a Set's strings would differ from every other string in a response.
func TestAppendStringMatchesGqlgen(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and backslash \`, "tab\tcr\rnl\n", "\x00\x01\x1f\x7f",
		"Café Corner – Müller 🧱", "invalid \xff\xfe utf-8", "\u2028\u2029", "</script>&<>",
	} {
		var want bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		if got := appendString(nil, s); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want.Bytes())
		}
	}
}

// Strings are scanned eight bytes at a time: every byte that needs
// escaping, and its neighbours in value that do not, must be found at any
// offset, alone or next to another.
func TestAppendStringFindsEveryEscapeAtEveryOffset(t *testing.T) {
	var special []byte
	for c := range 0x22 {
		special = append(special, byte(c))
	}
	special = append(special, '\\', '#', '[', ']', 0x7f, 0x80, 0xa2, 0xdc, 0xff)
	for _, c := range special {
		for _, d := range []byte{'a', '"', 0x1f} {
			for i := range 20 {
				s := []byte("abcdefghijklmnopqrst")
				s[i] = c
				s[(i+7)%20] = d
				var want bytes.Buffer
				graphql.MarshalString(string(s)).MarshalGQL(&want)
				if got := appendString(nil, string(s)); !bytes.Equal(got, want.Bytes()) {
					t.Fatalf("appendString(%q) = %s, want %s", s, got, want.Bytes())
				}
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("seed \"x\" \n")
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		if got := appendString(nil, s); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want.Bytes())
		}
	})
}

func TestAppendUUIDIsCanonical(t *testing.T) {
	for range 100 {
		id := uuid.New()
		if got, want := string(scalar.AppendUUID(nil, id)), `"`+id.String()+`"`; got != want {
			t.Fatalf("AppendUUID = %s, want %s", got, want)
		}
	}
}

// BenchmarkAppendString writes the strings of a gallery page's set: a
// title, a note and two photo URLs (most of the bytes of a page).
func BenchmarkAppendString(b *testing.B) {
	strs := []string{
		"Star Wars Submarine", "Box kept in storage",
		"https://img.example.com/sets/33e82df7-e0bd-49a6-a6a1-5846a6132178/0.jpg",
		"https://img.example.com/sets/33e82df7-e0bd-49a6-a6a1-5846a6132178/0_thumb.jpg",
	}
	n := 0
	for _, s := range strs {
		n += len(s)
	}
	b.SetBytes(int64(n))
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = buf[:0]
		for _, s := range strs {
			buf = appendString(buf, s)
		}
	}
}
