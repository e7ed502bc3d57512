// Package derived checks and rebuilds the data the database derives from
// other data (SPEC §13): the per-user theme totals, the canonical set-number
// keys, the change log's order, and the triggers that keep them. Triggers keep all of it right on
// every write, but a load that bypasses them (`pg_restore --disable-triggers`,
// `session_replication_role = replica`, a restore killed halfway that left
// triggers disabled) leaves it wrong with no error anywhere.
//
// Its SQL lives here rather than in internal/store: the store's queries are
// the API's, each scoped to one user, while these read and rewrite whole
// tables for an operator's command, under table locks the API never takes.
package derived

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Kind is one kind of derived data: a query that lists where it differs from
// what it derives from, and a statement that rebuilds it. A new kind of
// derived data (the change log's order, media files against rows) is one
// more entry in kinds, and its tables one more entry in lockOrder.
type Kind struct {
	// Name says what is derived, as verify and repair print it.
	Name string
	// check selects (subject, expected, found) text columns, one row per
	// difference; subject names the table, row and user concerned.
	check string
	// repair rebuilds the kind and returns how many rows (or objects) it
	// changed: zero when check finds nothing.
	repair func(ctx context.Context, tx bun.Tx) (int64, error)
}

// Kinds lists every kind of derived data in the order verify reports and
// repair rebuilds them. The triggers come first: repair re-enables them
// before it rebuilds what they keep, so no write after it commits goes
// unaccounted.
func Kinds() []Kind { return kinds }

var kinds = []Kind{
	{Name: "triggers", check: triggersCheck, repair: repairTriggers},
	{Name: "sets.canonical_set_number", check: canonicalCheck("sets", "set"), repair: execCount(canonicalRepair("sets"))},
	{Name: "wishlist_items.canonical_set_number", check: canonicalCheck("wishlist_items", "wishlist item"), repair: execCount(canonicalRepair("wishlist_items"))},
	{Name: "user_theme_totals", check: themeTotalsCheck, repair: execCount(themeTotalsRepair)},
	// Last: the repairs above change sets, and their triggers log it.
	{Name: "change log", check: changeLogCheck, repair: repairChangeLog},
}

// lockOrder is what repair locks before it reads anything: the parents
// first, as the application's transactions take them (a user before the
// user's rows; acquireWishlistItem locks a wishlist item, then inserts a
// set), so that a writer already holding one of them finishes instead of
// deadlocking against repair.
//
// EXCLUSIVE on sets and the totals lets plain reads go on (the API keeps
// serving galleries) and makes every write of sets wait until repair
// commits: the rebuild of the totals reads a complete snapshot that no
// trigger changes underneath it, so the totals are exact when it commits
// and the triggers' deltas add up from there. A lock-free set-based rebuild
// would race the triggers: a set written after the rebuild's snapshot adds
// its delta to a total that may or may not count it already.
//
// users and wishlist_items get SHARE ROW EXCLUSIVE, which stops their
// writers (no user is created or deleted under the totals; no wishlist item
// changes under the keys' rebuild) but not foreign-key checks: every insert
// of a set takes ROW SHARE on both after it holds sets (measured: EXCLUSIVE
// on wishlist_items deadlocked with concurrent inserts of sets). Being
// self-exclusive, it also makes two repairs run one after the other. The
// one wait left that can deadlock is repair's update of a wishlist item's
// wrong key while acquireWishlistItem holds that row and waits on sets;
// PostgreSQL then fails one of the two, and repair changes nothing.
var lockOrder = []struct{ table, mode string }{
	{"users", "SHARE ROW EXCLUSIVE"},
	{"wishlist_items", "SHARE ROW EXCLUSIVE"},
	{"sets", "EXCLUSIVE"},
	{"user_theme_totals", "EXCLUSIVE"},
	// Every writer of the log has taken its own table's lock first.
	{"change_heads", "EXCLUSIVE"},
	{"changes", "EXCLUSIVE"},
}

// Difference is one place where derived data is not what it derives from.
type Difference struct {
	Subject  string // the table, row and user, such as "user a@b.c, theme 'City'"
	Expected string // what the data it derives from says
	Found    string // what is stored
}

// Report is what verify found for one kind: Count differences in all, the
// first of them (at most the limit asked for) in Shown.
type Report struct {
	Kind  string
	Count int
	Shown []Difference
}

// Verify runs every kind's check in one read-only snapshot, so that totals
// and the sets they count are compared as of one moment, and returns one
// report per kind, each listing at most limit differences (and counting
// all of them).
func Verify(ctx context.Context, db *bun.DB, limit int) ([]Report, error) {
	if limit < 1 {
		return nil, fmt.Errorf("verify: limit must be at least 1, got %d", limit)
	}
	reports := make([]Report, 0, len(kinds))
	opts := &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	err := db.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
		for _, k := range kinds {
			r, err := check(ctx, tx, k, limit)
			if err != nil {
				return err
			}
			reports = append(reports, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return reports, nil
}

func check(ctx context.Context, tx bun.Tx, k Kind, limit int) (Report, error) {
	var rows []struct {
		Subject  string
		Expected string
		Found    string
		Total    int
	}
	// The window counts every difference before LIMIT keeps the first few.
	q := "SELECT d.subject, d.expected, d.found, count(*) OVER () AS total FROM (" + k.check +
		") AS d ORDER BY d.subject COLLATE \"C\" LIMIT ?"
	if err := tx.NewRaw(q, limit).Scan(ctx, &rows); err != nil {
		return Report{}, fmt.Errorf("check %s: %w", k.Name, err)
	}
	r := Report{Kind: k.Name, Shown: make([]Difference, len(rows))}
	for i, row := range rows {
		r.Count = row.Total
		r.Shown[i] = Difference{Subject: row.Subject, Expected: row.Expected, Found: row.Found}
	}
	return r, nil
}

// Repaired is how many rows (or, for triggers, objects) repair changed for
// one kind.
type Repaired struct {
	Kind    string
	Changed int64
}

// Repair rebuilds every kind in one transaction, under the locks of
// lockOrder, and returns what it changed per kind. It waits at most
// lockTimeout for each lock (zero: for ever), so that a long transaction
// holding a write makes repair fail, to be run again, rather than queue
// every writer behind it. Run twice, the second run changes nothing.
func Repair(ctx context.Context, db *bun.DB, lockTimeout time.Duration) ([]Repaired, error) {
	var out []Repaired
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		out = out[:0]
		if err := lock(ctx, tx, lockTimeout); err != nil {
			return err
		}
		// Rebuilding derived columns is no edit of a set or a wishlist
		// item: set_updated_at leaves updated_at alone when this is on
		// (migration 20261205000100), so no gallery sorted by UPDATED_AT
		// reorders.
		if _, err := tx.ExecContext(ctx, "SET LOCAL sets.derived_only = 'on'"); err != nil {
			return fmt.Errorf("mark the repair as derived-only: %w", err)
		}
		for _, k := range kinds {
			n, err := k.repair(ctx, tx)
			if err != nil {
				return fmt.Errorf("repair %s: %w", k.Name, err)
			}
			out = append(out, Repaired{Kind: k.Name, Changed: n})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func lock(ctx context.Context, tx bun.Tx, timeout time.Duration) error {
	q := fmt.Sprintf("SET LOCAL lock_timeout = %d", timeout.Milliseconds())
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("set lock_timeout: %w", err)
	}
	for _, l := range lockOrder {
		q := "LOCK TABLE " + l.table + " IN " + l.mode + " MODE"
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("lock %s (another transaction is writing it; run again later): %w", l.table, err)
		}
	}
	return nil
}

// execCount returns a repair that runs one statement returning a single
// count.
func execCount(query string) func(context.Context, bun.Tx) (int64, error) {
	return func(ctx context.Context, tx bun.Tx) (int64, error) {
		var n int64
		if err := tx.NewRaw(query).Scan(ctx, &n); err != nil {
			return 0, err
		}
		return n, nil
	}
}

// triggersCheck lists the application's own triggers that do not fire in
// normal operation: pg_restore --disable-triggers disables every trigger of
// a table while it loads it and enables them again after, so a restore
// killed halfway leaves them off, and from then on every write goes
// unaccounted. Internal triggers (foreign keys) are left out: enabling them
// again would not check the rows written meanwhile, and they keep no
// derived data.
const triggersCheck = `
	SELECT format('table %s, trigger %s', c.relname, t.tgname) AS subject,
	       'enabled' AS expected,
	       CASE t.tgenabled WHEN 'D' THEN 'disabled' ELSE 'enabled for replicas only' END AS found
	FROM pg_trigger AS t
	JOIN pg_class AS c ON c.oid = t.tgrelid
	WHERE c.relnamespace = current_schema()::regnamespace
	  AND NOT t.tgisinternal AND t.tgenabled IN ('D', 'R')`

func repairTriggers(ctx context.Context, tx bun.Tx) (int64, error) {
	var off []struct{ Table, Trigger string }
	err := tx.NewRaw(`
		SELECT c.relname AS table, t.tgname AS trigger
		FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
		WHERE c.relnamespace = current_schema()::regnamespace
		  AND NOT t.tgisinternal AND t.tgenabled IN ('D', 'R')
		ORDER BY 1, 2`).Scan(ctx, &off)
	if err != nil {
		return 0, fmt.Errorf("list disabled triggers: %w", err)
	}
	for _, o := range off {
		if _, err := tx.ExecContext(ctx, "ALTER TABLE ? ENABLE TRIGGER ?", bun.Ident(o.Table), bun.Ident(o.Trigger)); err != nil {
			return 0, fmt.Errorf("enable trigger %s on %s: %w", o.Trigger, o.Table, err)
		}
	}
	return int64(len(off)), nil
}

// canonicalCheck lists the rows of table (sets or wishlist_items, both with
// set_number, canonical_set_number, title and user_id) whose key is not
// canonical_set_number(set_number), the function their trigger applies;
// noun names one row in the listing.
func canonicalCheck(table, noun string) string {
	return strings.NewReplacer("TABLE", table, "NOUN", noun).Replace(`
	SELECT format('user %s, NOUN %s (%s), set_number %s',
	              coalesce(u.email, r.user_id::text), r.id, r.title, quote_nullable(r.set_number)) AS subject,
	       quote_nullable(canonical_set_number(r.set_number)) AS expected,
	       quote_nullable(r.canonical_set_number) AS found
	FROM TABLE AS r LEFT JOIN users AS u ON u.id = r.user_id
	WHERE r.canonical_set_number IS DISTINCT FROM canonical_set_number(r.set_number)`)
}

// canonicalRepair assigns the key explicitly rather than relying on the
// row trigger (which recomputes the same value when it fires), so that the
// result is right even while the trigger is disabled.
func canonicalRepair(table string) string {
	return strings.NewReplacer("TABLE", table).Replace(`
	WITH fixed AS (
	    UPDATE TABLE SET canonical_set_number = canonical_set_number(set_number)
	    WHERE canonical_set_number IS DISTINCT FROM canonical_set_number(set_number)
	    RETURNING 1
	)
	SELECT count(*) FROM fixed`)
}

// themeTotalsWant is what user_theme_totals must hold, as its triggers
// define it (migration 20261125000500): per (user, theme), the sets with
// that theme and the sum of coalesce(piece_count, 0) * quantity; no row for
// a theme without sets, nor for sets without a theme, nor for a user that
// does not exist (a trigger-less load can leave sets whose user is
// missing; the totals' foreign key could not hold them).
const themeTotalsWant = `
	SELECT s.user_id, s.theme, count(*)::bigint AS set_count,
	       sum(coalesce(s.piece_count, 0)::bigint * s.quantity)::bigint AS piece_total
	FROM sets AS s
	WHERE s.theme IS NOT NULL AND EXISTS (SELECT 1 FROM users AS u WHERE u.id = s.user_id)
	GROUP BY s.user_id, s.theme`

const themeTotalsCheck = `
	SELECT format('user %s, theme %s', coalesce(u.email, d.user_id::text), quote_literal(d.theme)) AS subject,
	       CASE WHEN d.want_count IS NULL THEN 'no row'
	            ELSE format('set_count %s, piece_total %s', d.want_count, d.want_pieces) END AS expected,
	       CASE WHEN d.have_count IS NULL THEN 'no row'
	            ELSE format('set_count %s, piece_total %s', d.have_count, d.have_pieces) END AS found
	FROM (SELECT coalesce(w.user_id, t.user_id) AS user_id, coalesce(w.theme, t.theme) AS theme,
	             w.set_count AS want_count, w.piece_total AS want_pieces,
	             t.set_count AS have_count, t.piece_total AS have_pieces
	      FROM (` + themeTotalsWant + `) AS w
	      FULL JOIN user_theme_totals AS t ON t.user_id = w.user_id AND t.theme = w.theme
	      WHERE (w.set_count, w.piece_total) IS DISTINCT FROM (t.set_count, t.piece_total)) AS d
	LEFT JOIN users AS u ON u.id = d.user_id`

// themeTotalsRepair writes only the rows that differ: a row already right
// is neither rewritten nor counted, so a second repair reports zero. Both
// data-modifying parts read the same snapshot; the DELETE takes only rows
// the wanted totals have no key for, which the INSERT never touches.
const themeTotalsRepair = `
	WITH want AS (` + themeTotalsWant + `),
	upserted AS (
	    INSERT INTO user_theme_totals AS t (user_id, theme, set_count, piece_total)
	    SELECT user_id, theme, set_count, piece_total FROM want
	    ON CONFLICT (user_id, theme) DO UPDATE
	        SET set_count = excluded.set_count, piece_total = excluded.piece_total
	        WHERE (t.set_count, t.piece_total) IS DISTINCT FROM (excluded.set_count, excluded.piece_total)
	    RETURNING 1
	),
	deleted AS (
	    DELETE FROM user_theme_totals AS t
	    WHERE NOT EXISTS (SELECT 1 FROM want AS w WHERE w.user_id = t.user_id AND w.theme = t.theme)
	    RETURNING 1
	)
	SELECT (SELECT count(*) FROM upserted) + (SELECT count(*) FROM deleted)`

// The change log (migration 20261207000400) hands each user's positions
// out from change_heads, densely and in commit order. A head behind its
// log would hand out a position again (the insert fails, and so does every
// write of that user); a hole in the positions (entries lost, or a head
// loaded past the entries) is a change no subscriber can ever be given.
// The first entry may be anything: retention prunes from the start.
//
// changeLogSeq is each user's positions with the one before, the head's
// successor standing for the end, so that a log stopping short of its head
// shows as a hole too.
const changeLogSeq = `
	SELECT user_id, position, lag(position) OVER (PARTITION BY user_id ORDER BY position) AS prev
	FROM (SELECT user_id, position FROM changes
	      UNION ALL
	      SELECT h.user_id, h.position + 1 FROM change_heads AS h
	      WHERE h.position >= (SELECT coalesce(max(c.position), 0) FROM changes AS c WHERE c.user_id = h.user_id)
	     ) AS e`

const changeLogCheck = `
	SELECT format('user %s, change_heads', coalesce(u.email, l.user_id::text)) AS subject,
	       format('position at least %s (its last entry)', l.last) AS expected,
	       CASE WHEN h.position IS NULL THEN 'no row' ELSE format('position %s', h.position) END AS found
	FROM (SELECT user_id, max(position) AS last FROM changes GROUP BY user_id) AS l
	LEFT JOIN change_heads AS h ON h.user_id = l.user_id
	LEFT JOIN users AS u ON u.id = l.user_id
	WHERE h.position IS NULL OR h.position < l.last
	UNION ALL
	SELECT format('user %s, changes positions %s to %s', coalesce(u.email, q.user_id::text), q.prev + 1, q.position - 1),
	       'an entry at each', 'none'
	FROM (` + changeLogSeq + `) AS q
	LEFT JOIN users AS u ON u.id = q.user_id
	WHERE q.position > q.prev + 1`

// repairChangeLog moves each head up to its last entry, then fills every
// hole with RESYNC entries (what was lost cannot be told, only that the
// client must refetch), and notifies the listeners of the users it
// touched, as the log's triggers would.
func repairChangeLog(ctx context.Context, tx bun.Tx) (int64, error) {
	var heads []string
	err := tx.NewRaw(`
		INSERT INTO change_heads AS h (user_id, position)
		SELECT user_id, max(position) FROM changes GROUP BY user_id
		ON CONFLICT (user_id) DO UPDATE SET position = excluded.position WHERE h.position < excluded.position
		RETURNING h.user_id::text`).Scan(ctx, &heads)
	if err != nil {
		return 0, fmt.Errorf("move heads up to their logs: %w", err)
	}
	var filled []string
	err = tx.NewRaw(`
		INSERT INTO changes (user_id, position, kind, entity_id)
		SELECT user_id, generate_series(prev + 1, position - 1), 'RESYNC', user_id
		FROM (`+changeLogSeq+`) AS q
		WHERE position > prev + 1
		RETURNING user_id::text`).Scan(ctx, &filled)
	if err != nil {
		return 0, fmt.Errorf("fill the log's holes: %w", err)
	}
	users := append(heads, filled...)
	if len(users) > 0 {
		_, err = tx.ExecContext(ctx, `
			SELECT pg_notify('sets_changes', user_id::text || ' ' || position)
			FROM change_heads WHERE user_id = ANY(?::uuid[])`, pgdialect.Array(users))
		if err != nil {
			return 0, fmt.Errorf("notify the repaired logs: %w", err)
		}
	}
	return int64(len(users)), nil
}
