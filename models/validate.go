package models

import (
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Input limits of SPEC §5. Lengths count Unicode code points.
const (
	MaxTitle      = 300
	MaxSetNumber  = 50
	MaxTheme      = 100
	MaxStore      = 100
	MaxNotes      = 10_000
	MaxURL        = 2_048
	MaxTags       = 50
	MaxTag        = 50
	MaxPieceCount = 1_000_000
	MaxQuantity   = 10_000
	MaxImages     = 50     // images in one createSet
	MaxPosition   = 10_000 // an image's position
	MaxSearch     = 200    // a filter's search text
	MinYear       = 1949
	MaxYear       = 2100
)

// MaxMoney is the largest amount numeric(10,2) holds.
var MaxMoney = decimal.RequireFromString("99999999.99")

// Text trims s and checks it holds no NUL and has min..max code points.
func Text(field, s string, min, max int) (string, error) {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, 0) >= 0 {
		return "", Invalid(field, "may not contain NUL characters")
	}
	if !utf8.ValidString(s) {
		return "", Invalid(field, "is not valid UTF-8")
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n < min && min == 1:
		return "", Invalid(field, "may not be empty")
	case n < min:
		return "", Invalid(field, "must have at least %d characters", min)
	case n > max:
		return "", Invalid(field, "must have at most %d characters (got %d)", max, n)
	}
	return s, nil
}

// OptText is Text for a nullable column: nil stays nil, and a value that
// is empty once trimmed is stored as NULL.
func OptText(field string, s *string, max int) (*string, error) {
	if s == nil {
		return nil, nil
	}
	v, err := Text(field, *s, 0, max)
	if err != nil || v == "" {
		return nil, err
	}
	return &v, nil
}

// URL checks that s is an absolute http(s) URL of at most MaxURL
// characters, and returns it trimmed.
func URL(field, s string) (string, error) {
	s, err := Text(field, s, 1, MaxURL)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", Invalid(field, "must be an absolute http or https URL")
	}
	return s, nil
}

// OptURL is URL for a nullable column; empty stores NULL.
func OptURL(field string, s *string) (*string, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	v, err := URL(field, *s)
	return &v, err
}

// Tags trims each tag, drops case-insensitive duplicates (the first
// spelling wins) and checks the limits. The result is never nil.
func Tags(field string, tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		t, err := Text(field+"."+strconv.Itoa(i), t, 1, MaxTag)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(t)
		if !seen[key] {
			seen[key] = true
			out = append(out, t)
		}
	}
	if len(out) > MaxTags {
		return nil, Invalid(field, "at most %d tags (got %d)", MaxTags, len(out))
	}
	return out, nil
}

// IntRange checks min <= n <= max.
func IntRange(field string, n, min, max int32) error {
	if n < min || n > max {
		return Invalid(field, "must be from %d to %d (got %d)", min, max, n)
	}
	return nil
}

// Money checks that d is an amount numeric(10,2) stores exactly: 0 to
// 99,999,999.99 with at most two decimals (PostgreSQL would round a third
// one silently).
func Money(field string, d *decimal.Decimal) error {
	if d == nil {
		return nil
	}
	if !d.Equal(d.Round(2)) {
		return Invalid(field, "may have at most two decimals")
	}
	if d.IsNegative() || d.GreaterThan(MaxMoney) {
		return Invalid(field, "must be from 0 to 99999999.99")
	}
	return nil
}

// Date checks that t falls within the years MinYear..MaxYear (UTC).
func Date(field string, t *time.Time) error {
	if t == nil {
		return nil
	}
	if y := t.UTC().Year(); y < MinYear || y > MaxYear {
		return Invalid(field, "must be within the years %d to %d", MinYear, MaxYear)
	}
	return nil
}
