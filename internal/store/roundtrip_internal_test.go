package store

import (
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/brickgallery/sets/models"
)

// TestColumnListsCoverModels: the positional scans read every column of
// their model, in the model's order, so a column added to a model cannot be
// silently left out of the gallery's reads.
func TestColumnListsCoverModels(t *testing.T) {
	db := bun.NewDB(nil, pgdialect.New())
	for _, c := range []struct {
		model   any
		columns string
		alias   string
	}{
		{(*models.Set)(nil), setColumns, "s."},
		{(*models.SetImage)(nil), imageColumns, "i."},
	} {
		table := db.Table(reflect.TypeOf(c.model))
		var want []string
		for _, f := range table.Fields {
			want = append(want, c.alias+f.Name)
		}
		if diff := cmp.Diff(want, strings.Split(c.columns, ", ")); diff != "" {
			t.Errorf("columns read for %s (-model +list):\n%s", table.Name, diff)
		}
	}
}
