package migrations_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/brickgallery/sets/internal/testdb"
)

// column is one column as the catalog describes it: format_type's spelling
// of the type, NOT NULL, and the default expression ("" for none).
type column struct {
	Name    string
	Type    string
	NotNull bool
	Default string
}

// tableColumns reads table's columns from pg_catalog in column order.
func tableColumns(tb testing.TB, db bun.IDB, table string) []column {
	tb.Helper()
	var cols []column
	err := db.NewRaw(`
		SELECT a.attname AS name,
		       format_type(a.atttypid, a.atttypmod) AS type,
		       a.attnotnull AS not_null,
		       coalesce(pg_get_expr(d.adbin, d.adrelid), '') AS default
		FROM pg_attribute a
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, "public."+table).Scan(context.Background(), &cols)
	if err != nil {
		tb.Fatalf("read columns of %s: %v", table, err)
	}
	return cols
}

// TestSchemaMatchesSpec reads the migrated schema back from the catalog and
// compares it with SPEC §1 column by column, so that a migration that drifts
// from the contract (a type, a NOT NULL, a default, a cascade) fails here
// rather than in the API.
func TestSchemaMatchesSpec(t *testing.T) {
	t.Parallel()
	db := testdb.New(t)

	const ts = "timestamp without time zone"
	wantColumns := map[string][]column{
		"users": {
			{"id", "uuid", true, "gen_random_uuid()"},
			{"email", "text", false, ""},
			{"display_name", "text", false, ""},
			{"created_at", ts, true, "now()"},
			{"updated_at", ts, true, "now()"},
		},
		"sets": {
			{"id", "uuid", true, "gen_random_uuid()"},
			{"user_id", "uuid", true, ""},
			{"title", "text", true, ""},
			{"set_number", "text", false, ""},
			{"store", "text", false, ""},
			{"source_url", "text", false, ""},
			{"piece_count", "integer", false, ""},
			{"release_date", ts, false, ""},
			{"theme", "text", false, ""},
			{"tags", "text[]", true, "'{}'::text[]"},
			{"notes", "text", false, ""},
			{"is_built", "boolean", true, "false"},
			{"quantity", "integer", true, "1"},
			{"purchase_price", "numeric(10,2)", false, ""},
			{"tax", "numeric(10,2)", false, ""},
			{"shipping", "numeric(10,2)", false, ""},
			{"purchase_date", ts, false, ""},
			{"wishlist_item_id", "uuid", false, ""},
			{"created_at", ts, true, "now()"},
			{"updated_at", ts, true, "now()"},
			{"canonical_set_number", "text", false, ""},
		},
		"set_images": {
			{"id", "uuid", true, "gen_random_uuid()"},
			{"set_id", "uuid", true, ""},
			{"image_url", "text", true, ""},
			{"thumbnail_url", "text", false, ""},
			{"position", "integer", true, "0"},
			{"created_at", ts, true, "now()"},
			// SPEC §8, uploaded photos.
			{"media_key", "text", false, ""},
			{"thumbnail_key", "text", false, ""},
			{"width", "integer", false, ""},
			{"height", "integer", false, ""},
			{"content_type", "text", false, ""},
			{"byte_size", "integer", false, ""},
		},
		"user_theme_totals": {
			{"user_id", "uuid", true, ""},
			{"theme", "text", true, ""},
			{"set_count", "bigint", true, ""},
			{"piece_total", "bigint", true, ""},
		},
		// SPEC §10.
		"wishlist_items": {
			{"id", "uuid", true, "gen_random_uuid()"},
			{"user_id", "uuid", true, ""},
			{"set_number", "text", false, ""},
			{"canonical_set_number", "text", false, ""},
			{"title", "text", true, ""},
			{"theme", "text", false, ""},
			{"priority", "smallint", true, "3"},
			{"target_price", "numeric(10,2)", false, ""},
			{"notes", "text", false, ""},
			{"acquired_at", ts, false, ""},
			{"created_at", ts, true, "now()"},
			{"updated_at", ts, true, "now()"},
		},
		// SPEC §11: the change log and each user's last position in it.
		"changes": {
			{"user_id", "uuid", true, ""},
			{"position", "bigint", true, ""},
			{"kind", "text", true, ""},
			{"entity_id", "uuid", true, ""},
			{"at", ts, true, "now()"},
		},
		"change_heads": {
			{"user_id", "uuid", true, ""},
			{"position", "bigint", true, ""},
		},
		// The values the wishlist foreign key's migration cleared, kept.
		"sets_dangling_wishlist_item_ids": {
			{"set_id", "uuid", true, ""},
			{"wishlist_item_id", "uuid", true, ""},
			{"moved_at", ts, true, "now()"},
		},
	}
	t.Run("tables", func(t *testing.T) {
		// Exactly SPEC §1's three tables, the per-theme totals that serve
		// `themes`, SPEC §10's wishlist and the values its foreign key's
		// migration moved aside, SPEC §11's change log and its heads, and
		// Bun's bookkeeping: a stray table is a
		// migration nobody asked for.
		got := mustStrings(t, db, `SELECT tablename::text COLLATE "C" FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
		want := []string{"bun_migration_locks", "bun_migrations", "change_heads", "changes", "media_deletions", "set_images", "sets",
			"sets_dangling_wishlist_item_ids", "user_theme_totals", "users", "wishlist_items"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tables (-want +got):\n%s", diff)
		}
	})
	for table, want := range wantColumns {
		t.Run("columns/"+table, func(t *testing.T) {
			if diff := cmp.Diff(want, tableColumns(t, db, table)); diff != "" {
				t.Errorf("columns of %s (-want +got):\n%s", table, diff)
			}
		})
	}
	t.Run("constraints", func(t *testing.T) {
		testConstraints(t, db)
	})
	t.Run("indexes", func(t *testing.T) {
		testIndexes(t, db)
	})
	t.Run("triggers", func(t *testing.T) {
		testTriggers(t, db)
	})
}

// schemaTables are the tables whose constraints and indexes the schema
// test compares.
var schemaTables = []string{"users", "sets", "set_images", "user_theme_totals",
	"wishlist_items", "sets_dangling_wishlist_item_ids"}

// testConstraints compares every constraint of the tables (other than NOT
// NULL, which the columns cover) with SPEC §1: primary keys, the unique
// email, the cascading foreign keys and the CHECKs.
func testConstraints(t *testing.T, db bun.IDB) {
	got := mustStrings(t, db, `
		SELECT (conrelid::regclass || ' ' || conname || ': ' || pg_get_constraintdef(oid)) COLLATE "C"
		FROM pg_constraint
		WHERE conrelid = ANY (?::regclass[])
		ORDER BY 1`, pgdialect.Array(schemaTables))
	want := []string{
		"set_images set_images_pkey: PRIMARY KEY (id)",
		"set_images set_images_position_check: CHECK ((\"position\" >= 0))",
		"set_images set_images_set_id_fkey: FOREIGN KEY (set_id) REFERENCES sets(id) ON DELETE CASCADE",
		"sets sets_piece_count_check: CHECK ((piece_count >= 0))",
		"sets sets_pkey: PRIMARY KEY (id)",
		"sets sets_purchase_price_check: CHECK ((purchase_price >= (0)::numeric))",
		"sets sets_quantity_check: CHECK ((quantity >= 1))",
		"sets sets_shipping_check: CHECK ((shipping >= (0)::numeric))",
		"sets sets_tax_check: CHECK ((tax >= (0)::numeric))",
		"sets sets_user_id_fkey: FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
		// SPEC §10: a set points only at its owner's item, and deleting the
		// item nulls wishlist_item_id alone; validated (else NOT VALID shows).
		"sets sets_wishlist_item_fk: FOREIGN KEY (wishlist_item_id, user_id) REFERENCES wishlist_items(id, user_id) ON DELETE SET NULL (wishlist_item_id)",
		"sets_dangling_wishlist_item_ids sets_dangling_wishlist_item_ids_pkey: PRIMARY KEY (set_id)",
		"sets_dangling_wishlist_item_ids sets_dangling_wishlist_item_ids_set_id_fkey: FOREIGN KEY (set_id) REFERENCES sets(id) ON DELETE CASCADE",
		"user_theme_totals user_theme_totals_pkey: PRIMARY KEY (user_id, theme)",
		"user_theme_totals user_theme_totals_user_id_fkey: FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
		"users users_email_key: UNIQUE (email)",
		"users users_pkey: PRIMARY KEY (id)",
		"wishlist_items wishlist_items_id_user_id_key: UNIQUE (id, user_id)",
		"wishlist_items wishlist_items_pkey: PRIMARY KEY (id)",
		"wishlist_items wishlist_items_priority_check: CHECK (((priority >= 1) AND (priority <= 5)))",
		"wishlist_items wishlist_items_target_price_check: CHECK ((target_price >= (0)::numeric))",
		"wishlist_items wishlist_items_user_id_fkey: FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("constraints (-want +got):\n%s", diff)
	}
}

// testIndexes checks the indexes SPEC §1 names, the keys behind the
// constraints, the user-scoped indexes the query plans asked for, and the
// one ON DELETE SET NULL of a wishlist item finds its sets by; each
// must be valid (a CREATE INDEX CONCURRENTLY that failed leaves an invalid
// one behind that the planner ignores).
func testIndexes(t *testing.T, db bun.IDB) {
	got := mustStrings(t, db, `
		SELECT pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid AND i.indisready THEN '' ELSE ' INVALID' END
		FROM pg_index i
		WHERE i.indrelid = ANY (?::regclass[])
		ORDER BY i.indexrelid::regclass::text COLLATE "C"`, pgdialect.Array(schemaTables))
	want := []string{
		"CREATE INDEX set_images_media_key_idx ON public.set_images USING btree (media_key) WHERE (media_key IS NOT NULL)",
		"CREATE UNIQUE INDEX set_images_pkey ON public.set_images USING btree (id)",
		"CREATE INDEX set_images_set_id_idx ON public.set_images USING btree (set_id)",
		"CREATE INDEX set_images_set_id_position_idx ON public.set_images USING btree (set_id, \"position\", id)",
		"CREATE INDEX set_images_thumbnail_key_idx ON public.set_images USING btree (thumbnail_key) WHERE (thumbnail_key IS NOT NULL)",
		"CREATE UNIQUE INDEX sets_dangling_wishlist_item_ids_pkey ON public.sets_dangling_wishlist_item_ids USING btree (set_id)",
		"CREATE UNIQUE INDEX sets_pkey ON public.sets USING btree (id)",
		"CREATE INDEX sets_set_number_idx ON public.sets USING btree (set_number)",
		"CREATE INDEX sets_theme_idx ON public.sets USING btree (theme)",
		"CREATE INDEX sets_user_canonical_set_number_idx ON public.sets USING btree (user_id, canonical_set_number)",
		"CREATE INDEX sets_user_created_at_idx ON public.sets USING btree (user_id, created_at DESC, id DESC)",
		"CREATE INDEX sets_user_id_idx ON public.sets USING btree (user_id)",
		"CREATE INDEX sets_user_theme_created_at_idx ON public.sets USING btree (user_id, theme, created_at DESC, id DESC) INCLUDE (piece_count, quantity)",
		"CREATE INDEX sets_wishlist_item_id_idx ON public.sets USING btree (wishlist_item_id) WHERE (wishlist_item_id IS NOT NULL)",
		"CREATE UNIQUE INDEX user_theme_totals_pkey ON public.user_theme_totals USING btree (user_id, theme)",
		"CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)",
		"CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)",
		"CREATE UNIQUE INDEX wishlist_items_id_user_id_key ON public.wishlist_items USING btree (id, user_id)",
		"CREATE UNIQUE INDEX wishlist_items_pkey ON public.wishlist_items USING btree (id)",
		"CREATE INDEX wishlist_items_user_canonical_set_number_idx ON public.wishlist_items USING btree (user_id, canonical_set_number)",
		"CREATE INDEX wishlist_items_user_created_at_idx ON public.wishlist_items USING btree (user_id, created_at DESC, id DESC)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("indexes (-want +got):\n%s", diff)
	}
}

// testTriggers checks that updated_at is maintained by the database on
// every table that has it, so it moves whoever writes the row, that every
// kind of write to sets maintains user_theme_totals, once per statement,
// and that the canonical set number (SPEC §7) is kept row by row on sets
// and wishlist items alike.
func testTriggers(t *testing.T, db bun.IDB) {
	got := mustStrings(t, db, `
		SELECT pg_get_triggerdef(oid) FROM pg_trigger
		WHERE NOT tgisinternal ORDER BY tgname COLLATE "C"`)
	want := []string{
		"CREATE TRIGGER set_images_log_deletes AFTER DELETE ON public.set_images REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION set_images_log_changes()",
		"CREATE TRIGGER set_images_log_inserts AFTER INSERT ON public.set_images REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION set_images_log_changes()",
		"CREATE TRIGGER set_images_log_truncate AFTER TRUNCATE ON public.set_images FOR EACH STATEMENT EXECUTE FUNCTION log_truncate()",
		"CREATE TRIGGER set_images_log_updates AFTER UPDATE ON public.set_images REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION set_images_log_changes()",
		"CREATE TRIGGER set_images_queue_media_deletion AFTER DELETE ON public.set_images FOR EACH ROW WHEN ((old.media_key IS NOT NULL)) EXECUTE FUNCTION set_images_queue_media_deletion()",
		"CREATE TRIGGER sets_canonical_set_number BEFORE INSERT OR UPDATE OF set_number, canonical_set_number ON public.sets FOR EACH ROW EXECUTE FUNCTION sets_canonical_set_number()",
		"CREATE TRIGGER sets_log_deletes AFTER DELETE ON public.sets REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sets_log_changes()",
		"CREATE TRIGGER sets_log_inserts AFTER INSERT ON public.sets REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sets_log_changes()",
		"CREATE TRIGGER sets_log_truncate AFTER TRUNCATE ON public.sets FOR EACH STATEMENT EXECUTE FUNCTION log_truncate()",
		"CREATE TRIGGER sets_log_updates AFTER UPDATE ON public.sets REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sets_log_changes()",
		"CREATE TRIGGER sets_set_updated_at BEFORE UPDATE ON public.sets FOR EACH ROW EXECUTE FUNCTION set_updated_at()",
		"CREATE TRIGGER sets_user_theme_totals_delete AFTER DELETE ON public.sets REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION user_theme_totals_apply()",
		"CREATE TRIGGER sets_user_theme_totals_insert AFTER INSERT ON public.sets REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_theme_totals_apply()",
		"CREATE TRIGGER sets_user_theme_totals_truncate AFTER TRUNCATE ON public.sets FOR EACH STATEMENT EXECUTE FUNCTION user_theme_totals_apply()",
		"CREATE TRIGGER sets_user_theme_totals_update AFTER UPDATE ON public.sets REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION user_theme_totals_apply()",
		"CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION set_updated_at()",
		"CREATE TRIGGER wishlist_items_canonical_set_number BEFORE INSERT OR UPDATE OF set_number, canonical_set_number ON public.wishlist_items FOR EACH ROW EXECUTE FUNCTION sets_canonical_set_number()",
		"CREATE TRIGGER wishlist_items_log_deletes AFTER DELETE ON public.wishlist_items REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION wishlist_items_log_changes()",
		"CREATE TRIGGER wishlist_items_log_inserts AFTER INSERT ON public.wishlist_items REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wishlist_items_log_changes()",
		"CREATE TRIGGER wishlist_items_log_truncate AFTER TRUNCATE ON public.wishlist_items FOR EACH STATEMENT EXECUTE FUNCTION log_truncate()",
		"CREATE TRIGGER wishlist_items_log_updates AFTER UPDATE ON public.wishlist_items REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wishlist_items_log_changes()",
		"CREATE TRIGGER wishlist_items_set_updated_at BEFORE UPDATE ON public.wishlist_items FOR EACH ROW EXECUTE FUNCTION set_updated_at()",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("triggers (-want +got):\n%s", diff)
	}
}
