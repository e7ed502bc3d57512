package models_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/brickgallery/sets/internal/testdb"
	"github.com/brickgallery/sets/models"
)

// modelDrift compares a Bun model with the table the migrations made, and
// returns "" when they agree, else a -database +model diff.
//
// Bun's AutoMigrator would do this comparison, but on this schema it reports
// differences that are not ones (it wants to drop the foreign keys and the
// unique email, which the models do not declare, and compares defaults) and
// fails to parse numeric(10,2). So the model is asked what table it would
// create, in a scratch schema inside a transaction that is rolled back,
// and PostgreSQL's catalog describes both tables in the same words. A column
// matches when the name, type (format_type) and NOT NULL agree. Bun spells
// an unbounded string "varchar" where the migrations say "text"; the two
// read and write identically in PostgreSQL, so they count as the same.
func modelDrift(tb testing.TB, db *bun.DB, model any) string {
	tb.Helper()
	ctx := context.Background()
	table := db.Table(reflect.TypeOf(model).Elem()).Name
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // the rollback is the point: nothing stays

	mustExecTx(tb, tx, "CREATE SCHEMA model_check")
	if _, err := tx.NewCreateTable().Model(model).ModelTableExpr("model_check.?", bun.Ident(table)).Exec(ctx); err != nil {
		tb.Fatalf("create the table model %T describes: %v", model, err)
	}
	fromDB := catalogColumns(tb, tx, "public", table)
	fromModel := catalogColumns(tb, tx, "model_check", table)
	return cmp.Diff(fromDB, fromModel)
}

// catalogColumns describes the columns of schema.table as "type [NOT NULL]"
// by column name.
func catalogColumns(tb testing.TB, db bun.IDB, schema, table string) map[string]string {
	tb.Helper()
	var rows []struct {
		Name string `bun:"name"`
		Type string `bun:"type"`
	}
	err := db.NewRaw(`
		SELECT a.attname AS name,
		       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END AS type
		FROM pg_attribute a
		WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped`,
		schema+"."+table).Scan(context.Background(), &rows)
	if err != nil {
		tb.Fatalf("read columns of %s.%s: %v", schema, table, err)
	}
	if len(rows) == 0 {
		tb.Fatalf("table %s.%s has no columns: does it exist?", schema, table)
	}
	cols := map[string]string{}
	for _, r := range rows {
		cols[r.Name] = strings.NewReplacer("character varying", "text").Replace(r.Type)
	}
	return cols
}

// mustExecTx runs one statement in tx and fails the test if it is refused.
func mustExecTx(tb testing.TB, tx bun.Tx, query string) {
	tb.Helper()
	if _, err := tx.ExecContext(context.Background(), query); err != nil {
		tb.Fatalf("exec %q: %v", query, err)
	}
}

// TestModelsMatchDatabase fails when a model field has no column, a column
// has no field, or the two disagree on type or NOT NULL: the models and the
// migrations are written by hand, and the compiler checks neither against
// the other.
func TestModelsMatchDatabase(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	tables := []any{(*models.User)(nil), (*models.Set)(nil), (*models.SetImage)(nil), (*models.UserThemeTotal)(nil), (*models.WishlistItem)(nil), (*models.DanglingWishlistLink)(nil), (*models.MediaDeletion)(nil), (*models.Change)(nil), (*models.ChangeHead)(nil)}
	var modelled []string
	for _, model := range tables {
		modelled = append(modelled, db.Table(reflect.TypeOf(model).Elem()).Name)
		t.Run(fmt.Sprintf("%T", model), func(t *testing.T) {
			if diff := modelDrift(t, db, model); diff != "" {
				t.Errorf("columns of %T (-database +model):\n%s", model, diff)
			}
		})
	}
	// A table without a model would escape the comparison above.
	var all []string
	err := db.NewRaw(`SELECT tablename::text COLLATE "C" FROM pg_tables
		WHERE schemaname = 'public' AND tablename NOT LIKE 'bun\_migration%' ORDER BY 1`).Scan(t.Context(), &all)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(modelled)
	if diff := cmp.Diff(all, modelled); diff != "" {
		t.Errorf("tables with a model (-database +models):\n%s", diff)
	}
}

// Models that drift from set_images in one way each, to show that
// modelDrift sees every kind of difference (and so that a change that made
// it blind, such as comparing names only, fails here).
type (
	imageMissingField struct {
		bun.BaseModel `bun:"table:set_images"`
		ID            uuid.UUID `bun:"id,pk,type:uuid"`
		SetID         uuid.UUID `bun:"set_id,notnull,type:uuid"`
		ImageURL      string    `bun:"image_url,notnull"`
		ThumbnailURL  *string   `bun:"thumbnail_url"`
		Position      int32     `bun:"position,notnull"`
	}
	imageExtraField struct {
		models.SetImage `bun:",extend"`
		Caption         *string `bun:"caption"`
	}
	imageWrongType struct {
		models.SetImage `bun:",extend"`
		Position        int64 `bun:"position,notnull"`
	}
	imageWrongNull struct {
		models.SetImage `bun:",extend"`
		ThumbnailURL    string `bun:"thumbnail_url,notnull"`
	}
)

// TestModelDriftIsCaught feeds modelDrift the drifting models above.
func TestModelDriftIsCaught(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)
	tests := []struct {
		name, column string
		model        any
	}{
		{"column without field", "created_at", (*imageMissingField)(nil)},
		{"field without column", "caption", (*imageExtraField)(nil)},
		{"type differs", "position", (*imageWrongType)(nil)},
		{"NOT NULL differs", "thumbnail_url", (*imageWrongNull)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diff := modelDrift(t, db, tt.model)
			if !strings.Contains(diff, tt.column) {
				t.Errorf("drift of %T: got diff %q, want one naming %s", tt.model, diff, tt.column)
			}
		})
	}
}
