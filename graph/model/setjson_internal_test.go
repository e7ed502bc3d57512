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
