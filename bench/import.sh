#!/usr/bin/env bash
# The import against psql \copy, side by side (SPEC §9: a 50,000-row
# SETS_CSV import into an empty collection takes at most twice as long as
# \copy of the same rows into sets, same triggers, same indexes):
#
#   bench/import.sh               # ROWS=50000 REPS=5, about two minutes
#
# It builds the server, creates database bench_import with our migrations,
# makes ROWS sets with two photos each for a generator account, and writes
# them out twice: through `sets db export` (the SETS_CSV file the import
# reads) and through psql \copy (the rows of sets and set_images, owned by
# the target account). Then, REPS times, alternating which goes first, it
# empties the target collection and times
#   A: sets db import --email target --mode ADD sets.csv   (the whole
#      command: parsing, createSet's validation of every row, COPY into a
#      staging table, the inserts, the commit)
#   B: psql -c '\copy sets ...' -c '\copy set_images ...' in one transaction
# and prints each time, the medians and their ratio; the figures land in
# bench/run/import/results.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/bench/run/import
ROWS=${ROWS:-50000}
REPS=${REPS:-5}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
DB=bench_import
export DATABASE_URL="postgres://$PGUSER@$PGHOST:5432/$DB?sslmode=disable"
mkdir -p "$WORK"
q() { psql -X -qAt -d "$DB" -v ON_ERROR_STOP=1 -c "$1"; }
now() { date +%s.%N; }

echo "== building the server"
(cd "$ROOT" && go build -o "$WORK/sets" .)
psql -X -q -d postgres -c "drop database if exists $DB with (force)"
"$WORK/sets" db migrate >/dev/null 2>&1

echo "== $ROWS sets with two photos each, as the import and as \\copy will write them"
gen=$("$WORK/sets" token --email generator@example.com >/dev/null 2>&1 && q "select id from users where email = 'generator@example.com'")
"$WORK/sets" token --email target@example.com >/dev/null 2>&1
target=$(q "select id from users where email = 'target@example.com'")
q "insert into sets (user_id, title, set_number, store, piece_count, release_date, theme, tags, notes,
     is_built, quantity, purchase_price, tax, shipping, purchase_date, created_at, updated_at)
   select '$gen', 'Set ' || i || ', \"quoted\"', (10000 + i) || '-1', 'LEGO Store', i % 5000,
     timestamp '2015-01-01' + (i % 3000) * interval '1 day', 'Theme ' || (i % 40),
     array['tag' || (i % 7), 'tag' || (i % 11)], case when i % 3 = 0 then 'Notes for ' || i || E'\nsecond line' end,
     i % 2 = 0, 1 + i % 3, (i % 900) + 0.99, 1.50, null, timestamp '2020-01-01' + (i % 1000) * interval '1 day',
     timestamp '2024-01-01' + i * interval '1 second', timestamp '2024-06-01' + i * interval '1 second'
   from generate_series(1, $ROWS) as i"
q "insert into set_images (set_id, image_url, thumbnail_url, position)
   select s.id, 'https://img.example.com/' || s.id || '/' || p || '.jpg', 'https://img.example.com/t/' || s.id || '.jpg', p
   from sets as s, generate_series(0, 1) as p where s.user_id = '$gen'"
"$WORK/sets" db export --email generator@example.com > "$WORK/sets.csv"
cols="id, user_id, title, set_number, store, source_url, piece_count, release_date, theme, tags, notes, is_built,
      quantity, purchase_price, tax, shipping, purchase_date, wishlist_item_id, created_at, updated_at"
select_cols=$(echo "$cols" | sed "s/user_id/'$target'::uuid as user_id/")
q "\\copy (select $select_cols from sets where user_id = '$gen' order by created_at, id) to '$WORK/sets.copy' csv"
q "\\copy (select i.set_id, i.image_url, i.thumbnail_url, i.position from set_images as i join sets as s on s.id = i.set_id where s.user_id = '$gen') to '$WORK/images.copy' csv"
q "delete from sets where user_id = '$gen'"
q "vacuum (analyze)"
echo "sets.csv: $(wc -l < "$WORK/sets.csv") lines, $(du -h "$WORK/sets.csv" | cut -f1)"

empty() { q "delete from sets where user_id = '$target'" && q "vacuum (analyze) sets, set_images, user_theme_totals" && q "checkpoint"; }
run_import() {
  local t0; t0=$(now)
  "$WORK/sets" db import --email target@example.com --mode ADD "$WORK/sets.csv" >/dev/null
  echo "$(now) - $t0" | bc
}
run_copy() {
  local t0; t0=$(now)
  psql -X -q -d "$DB" -v ON_ERROR_STOP=1 -1 \
    -c "\\copy sets ($cols) from '$WORK/sets.copy' csv" \
    -c "\\copy set_images (set_id, image_url, thumbnail_url, position) from '$WORK/images.copy' csv"
  echo "$(now) - $t0" | bc
}

imports=() copies=()
for rep in $(seq 1 "$REPS"); do
  if [ $((rep % 2)) = 1 ]; then order="import copy"; else order="copy import"; fi
  for what in $order; do
    empty
    t=$(run_$what)
    n=$(q "select count(*) from sets where user_id = '$target'")
    [ "$n" = "$ROWS" ] || { echo "$what wrote $n sets, want $ROWS" >&2; exit 1; }
    printf 'rep=%d %s seconds=%.3f\n' "$rep" "$what" "$t"
    if [ "$what" = import ]; then imports+=("$t"); else copies+=("$t"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mi=$(median "${imports[@]}") mc=$(median "${copies[@]}")
{
  echo "commit $(git -C "$ROOT" rev-parse --short HEAD), $(date -u +%F), $ROWS rows with 2 images each, $REPS reps"
  echo "import (sets db import --mode ADD) median ${mi}s: ${imports[*]}"
  echo "psql \\copy sets + set_images        median ${mc}s: ${copies[*]}"
  echo "ratio import / \\copy: $(echo "scale=2; $mi / $mc" | bc)"
} | tee "$WORK/results.txt"
