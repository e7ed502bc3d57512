package scalar

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
)

// The built-in scalars Int, String and Boolean, with the input coercion the
// GraphQL spec asks for. gqlgen's own unmarshalers are lenient: a string
// "3" is an Int, a number 3 is a String, "true" is a Boolean. gqlparser's
// variable validation catches some of it, but not all: a json.Number is a
// Go string kind, so it passes for a String, and a string of digits passes
// for an Int, at the top level and inside input objects alike.
//
// The transports decode variables with json.Decoder.UseNumber, so a JSON
// number arrives here as json.Number (or, at the top level, as the int64
// gqlparser turns it into) and a JSON string as string: the two can be told
// apart. Query-document literals arrive as int64, string and bool, after
// gqlparser's validation has already checked their kinds.

// MarshalInt32 writes i as a JSON number.
func MarshalInt32(i int32) graphql.Marshaler {
	return graphql.MarshalInt32(i)
}

// UnmarshalInt32 reads a GraphQL Int: a JSON number in integer notation, or
// an integer literal, within the signed 32-bit range. A string, a boolean,
// a fraction, and also a whole number written as a fraction or with an
// exponent (3.0, 1e2) are refused: gqlparser already refuses those for a
// top-level variable, and the same value must not pass one level down.
func UnmarshalInt32(v any) (int32, error) {
	var n int64
	switch v := v.(type) {
	case json.Number:
		var err error
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return 0, invalid("not an Int: %s is outside the 32-bit range", truncate(string(v), 40))
			}
			return 0, invalid("not an Int: %s is not a whole number in integer notation", truncate(string(v), 40))
		}
	case int64:
		n = v
	case int:
		n = int64(v)
	case int32:
		return v, nil
	case float64:
		// Only from a JSON decoder without UseNumber (never our
		// transports), where 3 and 3.0 are the same float64.
		if v != math.Trunc(v) || math.IsInf(v, 0) {
			return 0, invalid("not an Int: %v is not a whole number", v)
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			return 0, invalid("not an Int: %v is outside the 32-bit range", v)
		}
		return int32(v), nil
	case nil:
		// gqlgen's generated code checks for null before calling, and
		// validation refuses null where it is not allowed.
		return 0, nil
	default:
		return 0, invalid("not an Int: got %s", kindOf(v))
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, invalid("not an Int: %d is outside the 32-bit range", n)
	}
	return int32(n), nil
}

// MarshalString writes s as a JSON string.
func MarshalString(s string) graphql.Marshaler {
	return graphql.MarshalString(s)
}

// UnmarshalString reads a GraphQL String: a JSON string only, never a
// number or a boolean written in its place.
func UnmarshalString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	default:
		return "", invalid("not a String: got %s", kindOf(v))
	}
}

// MarshalBoolean writes b as JSON true or false.
func MarshalBoolean(b bool) graphql.Marshaler {
	return graphql.MarshalBoolean(b)
}

// UnmarshalBoolean reads a GraphQL Boolean: JSON true or false only, never
// a string such as "true" or a number.
func UnmarshalBoolean(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case nil:
		return false, nil
	default:
		return false, invalid("not a Boolean: got %s", kindOf(v))
	}
}

// kindOf names the JSON kind of a variable's value, as a client wrote it.
func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number, int, int32, int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		return "a value of another type"
	}
}
