package server_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type money struct {
	PurchasePrice, Tax, Shipping, TotalCost *string
}

// TestDecimalExact: amounts go in as strings, JSON numbers or literals in
// the query text, and come out exact with two decimals, never through a
// float (0.1 + 0.2 would be 0.30000000000000004).
func TestDecimalExact(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	const moneyFields = `purchasePrice tax shipping totalCost`
	create := func(t *testing.T, query string, vars map[string]any) (string, money) {
		t.Helper()
		var data struct {
			CreateSet struct {
				Set struct {
					ID string
					money
				}
			}
		}
		mustOK(t, h.do(t, token, query, vars), &data)
		return data.CreateSet.Set.ID, data.CreateSet.Set.money
	}
	stored := func(t *testing.T, id string) money {
		t.Helper()
		var m money
		err := h.check.NewRaw(`SELECT purchase_price::text, tax::text, shipping::text,
			(coalesce(purchase_price, 0) + coalesce(tax, 0) + coalesce(shipping, 0))::text FROM sets WHERE id = ?`, id).
			Scan(t.Context(), &m.PurchasePrice, &m.Tax, &m.Shipping, &m.TotalCost)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := money{ptr("0.10"), ptr("0.20"), ptr("0.30"), ptr("0.60")}
	byVariable := `mutation($input: CreateSetInput!) { createSet(input: $input) { set { id ` + moneyFields + ` } } }`

	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
	}{
		{"strings", byVariable, map[string]any{"input": map[string]any{"title": "s", "purchasePrice": "0.10", "tax": "0.2", "shipping": "0.30"}}},
		{"JSON numbers", byVariable, map[string]any{"input": map[string]any{"title": "n",
			"purchasePrice": json.Number("0.1"), "tax": json.Number("0.20"), "shipping": json.Number("0.3")}}},
		{"mixed", byVariable, map[string]any{"input": map[string]any{"title": "m", "purchasePrice": "0.10", "tax": 0.2, "shipping": json.Number("0.300")}}},
		{"literals", `mutation { createSet(input: {title: "l", purchasePrice: 0.1, tax: 0.20, shipping: 0.3}) { set { id ` + moneyFields + ` } } }`, nil},
		{"string literals", `mutation { createSet(input: {title: "l", purchasePrice: "0.10", tax: "0.2", shipping: "0.30"}) { set { id ` + moneyFields + ` } } }`, nil},
		{"Decimal variables", `mutation($p: Decimal, $t: Decimal, $s: Decimal) { createSet(input: {title: "v", purchasePrice: $p, tax: $t, shipping: $s}) {
			set { id ` + moneyFields + ` } } }`, map[string]any{"p": json.Number("0.10"), "t": "0.20", "s": 0.3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, got := create(t, tc.query, tc.vars)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, stored(t, id)); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("two decimals out", func(t *testing.T) {
		for in, out := range map[string]string{"5": "5.00", "5.5": "5.50", "0": "0.00", "99999999.99": "99999999.99",
			"12345678.9": "12345678.90", "007.10": "7.10", "1.000": "1.00"} {
			_, got := create(t, byVariable, map[string]any{"input": map[string]any{"title": "x", "tax": in}})
			if want := (money{Tax: &out, TotalCost: &out}); !cmp.Equal(want, got) {
				t.Errorf("tax %q: got %+v, want %+v", in, got, want)
			}
		}
	})
	t.Run("large literal", func(t *testing.T) {
		_, got := create(t, `mutation { createSet(input: {title: "l", purchasePrice: 99999999.99, tax: 12345678.91, shipping: 1}) {
			set { id `+moneyFields+` } } }`, nil)
		want := money{ptr("99999999.99"), ptr("12345678.91"), ptr("1.00"), ptr("112345679.90")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("literal with 3 decimals", func(t *testing.T) {
		r := h.do(t, token, `mutation { createSet(input: {title: "l", tax: 0.125}) { set { id } } }`, nil)
		mustFail(t, r, "BAD_USER_INPUT", "input.tax")
	})
	t.Run("huge JSON number", func(t *testing.T) {
		r := h.do(t, token, byVariable, map[string]any{"input": map[string]any{"title": "x", "tax": json.Number("1e400")}})
		mustFail(t, r, "BAD_USER_INPUT", "input.tax")
	})
	t.Run("null totalCost", func(t *testing.T) {
		_, got := create(t, byVariable, map[string]any{"input": map[string]any{"title": "x"}})
		if !cmp.Equal(money{}, got) {
			t.Errorf("no amounts: got %+v, want all null", got)
		}
	})
}

// TestTotalSpentExact: a sum over many sets with cents that a float sum
// would get wrong, and beyond numeric(10,2) in total.
func TestTotalSpentExact(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	for range 30 {
		h.mustCreateSet(t, token, map[string]any{"title": "cents", "purchasePrice": "0.10", "tax": "0.20", "shipping": json.Number("0.30")})
	}
	h.mustCreateSet(t, token, map[string]any{"title": "max", "purchasePrice": "99999999.99", "tax": "99999999.99"})
	h.mustCreateSet(t, token, map[string]any{"title": "nothing paid"})
	got := h.mustStats(t, token, nil)
	if want := "200000017.98"; got.TotalSpent != want {
		t.Errorf("totalSpent: got %s, want %s", got.TotalSpent, want)
	}
	got = h.mustStats(t, token, map[string]any{"search": "cents"})
	if want := "18.00"; got.TotalSpent != want {
		t.Errorf("totalSpent of the 30 cent sets: got %s, want %s", got.TotalSpent, want)
	}
}

// TestDecimalPatch: amounts through updateSet, and null clearing one part
// of totalCost.
func TestDecimalPatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, token := h.newUser(t)
	set := h.mustCreateSet(t, token, map[string]any{"title": "x", "purchasePrice": "10.10", "tax": "0.90"})
	got := h.mustUpdateSet(t, token, set.ID, map[string]any{"tax": nil, "shipping": json.Number("0.01")})
	if diff := cmp.Diff(money{ptr("10.10"), nil, ptr("0.01"), ptr("10.11")},
		money{got.PurchasePrice, got.Tax, got.Shipping, got.TotalCost}); diff != "" {
		t.Errorf("after the patch (-want +got):\n%s", diff)
	}
	r := h.do(t, token, updateSetMutation, map[string]any{"id": set.ID, "input": map[string]any{"purchasePrice": "-1"}})
	mustFail(t, r, "BAD_USER_INPUT", "input.purchasePrice")
}
