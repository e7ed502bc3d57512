package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// verify looks, in the primary itself (not through the API, its replicas
// or PgBouncer), for every write the ledgers say was acknowledged: each
// created set must exist, and each set's title must be its last
// acknowledged one or a later attempt (a write that failed may still
// have committed). It returns how many acknowledged writes there were, and
// how many sets miss one (absent, or holding an older title).
func verify(ctx context.Context, url string, ledgers []*ledger) (acked, lost int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, fmt.Errorf("verify: %w", err)
	}
	defer conn.Close(ctx)
	want := map[string]int{} // set → the least title number it may hold
	created := map[string]bool{}
	for _, l := range ledgers {
		for _, id := range l.created {
			created[id] = true
		}
		maps.Copy(want, l.acked)
	}
	ids := slices.Collect(maps.Keys(want))
	for id := range created {
		if _, ok := want[id]; !ok {
			ids = append(ids, id)
		}
	}
	rows, err := conn.Query(ctx, `SELECT id::text, title FROM sets WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return 0, 0, fmt.Errorf("verify: %w", err)
	}
	found := map[string]string{}
	for rows.Next() {
		var id, title string
		if err := rows.Scan(&id, &title); err != nil {
			return 0, 0, fmt.Errorf("verify: %w", err)
		}
		found[id] = title
	}
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("verify: %w", err)
	}
	for _, l := range ledgers {
		acked += l.writes
	}
	for id := range created {
		if _, ok := found[id]; !ok {
			lost++
		}
	}
	for id, seq := range want {
		title, ok := found[id]
		if !ok {
			continue // counted above, as a lost creation
		}
		if got, ok := titleSeq(title); !ok || got < seq {
			lost++
		}
	}
	return acked, lost, nil
}

// printTable writes the scenarios' table and, below it, what each
// window measured and which failures happened.
func printTable(w io.Writer, o options, rows []result) {
	fmt.Fprintf(w, "Load per scenario: %d readers and %d writers (closed loop) through HAProxy for %s, the fault injected %s in.\n\n",
		o.readers, o.writers, o.duration, o.faultAt)
	fmt.Fprintln(w, "| fault | requests (reads + writes) | failed (reads + writes) | window | acknowledged writes lost | goal | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range rows {
		window := "—"
		switch {
		case r.faulty() && r.window == 0:
			window = "0 (nothing failed or slowed)"
		case r.faulty():
			window = ms(r.window)
		}
		met := "yes"
		if !r.goalMet {
			met = "**no**"
		}
		fmt.Fprintf(w, "| %s | %s + %s | %s (%.3f%%) + %s | %s | %d of %s | %s | %s |\n",
			r.fault, thousands(r.reads), thousands(r.writes), thousands(r.readsFailed), pct(r.readsFailed, r.reads),
			thousands(r.writesFailed), window, r.lost, thousands(r.acked), r.goal, met)
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		note := r.goalNote
		if note == "" {
			note = fmt.Sprintf("%d requests failed", r.readsFailed+r.writesFailed)
		}
		fmt.Fprintf(w, "- **%s**: %s.", r.name, note)
		if r.windowNote != "" {
			fmt.Fprintf(w, " Window: %s.", r.windowNote)
		}
		fmt.Fprintf(w, " Slowest read of the whole run %s; read-backs that missed their own write: %d.", ms(r.slowest), r.staleReads)
		if len(r.errorKinds) > 0 {
			kinds := slices.Sorted(maps.Keys(r.errorKinds))
			var parts []string
			for _, k := range kinds {
				parts = append(parts, fmt.Sprintf("%d × %s", r.errorKinds[k], k))
			}
			fmt.Fprintf(w, " Failures: %s.", strings.Join(parts, "; "))
		}
		fmt.Fprintln(w)
	}
}

// thousands writes n with commas: 12,345.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// writeSamples writes every request of every scenario as CSV, times in
// milliseconds from the scenario's fault (from its start for the
// baseline), for looking at a window request by request.
func writeSamples(path string, rows []result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"scenario", "kind", "start_ms", "duration_ms", "error"})
	for _, r := range rows {
		zero := r.injectedAt
		if zero.IsZero() && len(r.samples) > 0 {
			zero = r.samples[0].start
		}
		for _, s := range r.samples {
			kind, msg := "read", ""
			if s.write {
				kind = "write"
			}
			if s.err != nil {
				msg = shortError(s.err)
			}
			w.Write([]string{r.name, kind, fmt.Sprint(s.start.Sub(zero).Milliseconds()),
				fmt.Sprintf("%.1f", float64(s.end.Sub(s.start).Microseconds())/1000), msg})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
