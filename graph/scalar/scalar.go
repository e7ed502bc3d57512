// Package scalar marshals the API's custom scalars: UUID, DateTime and
// Decimal. Unmarshal errors are coded BAD_USER_INPUT; the error presenter adds
// the input path.
package scalar

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/brickgallery/sets/models"
)

func invalid(format string, args ...any) error {
	return models.Invalid("", format, args...)
}

// MarshalUUID writes id in canonical form.
func MarshalUUID(id uuid.UUID) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		w.Write(AppendUUID(make([]byte, 0, 38), id))
	})
}

// AppendUUID appends id as a JSON string in canonical form.
func AppendUUID(b []byte, id uuid.UUID) []byte {
	var s [36]byte
	hex.Encode(s[0:8], id[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], id[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], id[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], id[8:10])
	s[23] = '-'
	hex.Encode(s[24:], id[10:])
	b = append(b, '"')
	b = append(b, s[:]...)
	return append(b, '"')
}

// UnmarshalUUID reads a canonical 36-character UUID string.
func UnmarshalUUID(v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok || len(s) != 36 {
		return uuid.Nil, invalid("not a UUID: use the 36-character form such as 6f1c3c1e-93b5-4a4e-9a7e-2f0c6f8d5a10")
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, invalid("not a UUID: %q", s)
	}
	return id, nil
}

// MarshalDateTime writes t in RFC 3339, in UTC with a "Z".
func MarshalDateTime(t time.Time) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		w.Write(AppendDateTime(make([]byte, 0, 32), t))
	})
}

// AppendDateTime appends t as a JSON string in RFC 3339, UTC with a "Z".
func AppendDateTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// UnmarshalDateTime reads an RFC 3339 string with any offset and returns
// it in UTC, at the microsecond precision PostgreSQL stores.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, invalid("not a DateTime: use an RFC 3339 string such as 2024-11-01T12:00:00Z")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, invalid("not a DateTime: %q is not RFC 3339 (such as 2024-11-01T12:00:00Z)", s)
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// MarshalDecimal writes d as a string with exactly two decimals.
func MarshalDecimal(d decimal.Decimal) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		w.Write(AppendDecimal(nil, d))
	})
}

// AppendDecimal appends d as a JSON string with exactly two decimals.
func AppendDecimal(b []byte, d decimal.Decimal) []byte {
	b = append(b, '"')
	if e := d.Exponent(); e <= 0 && e >= -2 && d.NumDigits() <= 15 {
		// Every amount read from a numeric(10,2) column lands here: its
		// cents fit an int64 and need no rounding, so they are written
		// without StringFixed's big.Int rounding and string (a gallery page
		// writes ~150 amounts).
		cents := d.CoefficientInt64()
		for ; e > -2; e-- {
			cents *= 10
		}
		if cents < 0 {
			b = append(b, '-')
			cents = -cents
		}
		b = strconv.AppendInt(b, cents/100, 10)
		b = append(b, '.', byte('0'+cents/10%10), byte('0'+cents%10))
	} else {
		b = append(b, d.StringFixed(2)...)
	}
	return append(b, '"')
}

// plainDecimal is the only notation accepted: no exponent, no sign but a
// leading minus, at most 20 digits on either side. The bound keeps a hostile
// "1e999999999" from ever reaching arbitrary-precision arithmetic; the
// model's validation then applies the real limits.
var plainDecimal = regexp.MustCompile(`^-?[0-9]{1,20}(\.[0-9]{1,20})?$`)

// UnmarshalDecimal reads a string or a JSON number exactly. Variables arrive
// as json.Number (gqlgen decodes with UseNumber), so their digits are kept
// as sent. A number literal written in the query text reaches here as
// float64 (gqlparser parses it so); its shortest representation gives back
// the literal's digits for any amount with up to 15 significant digits,
// which covers every valid amount.
func UnmarshalDecimal(v any) (decimal.Decimal, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case int64:
		s = strconv.FormatInt(v, 10)
	case int:
		s = strconv.Itoa(v)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return decimal.Decimal{}, invalid("not a Decimal: use a string such as \"129.99\" or a number")
	}
	if !plainDecimal.MatchString(s) {
		return decimal.Decimal{}, invalid("not a Decimal: %q (use plain notation such as \"129.99\")", truncate(s, 40))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, invalid("not a Decimal: %q", s)
	}
	return d, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s…", s[:n])
}
