package scalar

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// AppendDecimal's fast path for amounts of up to two decimals must write
// exactly what StringFixed(2) writes, and every other value must still be
// rounded by StringFixed.
func TestAppendDecimalMatchesStringFixed(t *testing.T) {
	cases := []decimal.Decimal{
		decimal.Zero, decimal.New(0, -2), decimal.New(5, -2), decimal.New(-5, -2),
		decimal.New(200, -2), decimal.New(2, 0), decimal.New(25, -1), decimal.New(-25, -1),
		decimal.New(9999999999, -2), decimal.New(123456789012345, -2), decimal.New(1234567890123456, -2),
		decimal.New(999999999999999999, -2), decimal.New(12345, -3), decimal.New(-12355, -3),
		decimal.New(1, 3), decimal.New(7, 20), decimal.RequireFromString("99999999999999999999999.999"),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		cases = append(cases, decimal.New(r.Int64N(1e12)-5e11, -r.Int32N(5)))
	}
	for _, d := range cases {
		want := `"` + d.StringFixed(2) + `"`
		if got := string(AppendDecimal(nil, d)); got != want {
			t.Fatalf("AppendDecimal(%s exp %d) = %s, want %s", d, d.Exponent(), got, want)
		}
	}
}

func BenchmarkAppendDecimal(b *testing.B) {
	d := decimal.New(2499, -2)
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf = AppendDecimal(buf[:0], d)
	}
}
