#!/usr/bin/env bash
# Ratios of a bench.sh result file (bench/compare.sh writes one): ours over
# PostGraphile (req/s, p99), ours over the pgbench ceiling of our own SQL,
# and peak RSS, per query and concurrency, averaged over repetitions.
#   bench/ratios.sh bench/run/results/bench-*.txt
awk '
/^target=/ {
  delete f; for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
  k = f["q"] " " f["c"]; t = f["target"]
  if (!(k in seen)) { seen[k] = 1; keys[++n] = k }
  rps[k, t] += f["rps"]; p99[k, t] += f["p99_ms"]; cnt[k, t]++
  if (f["rss_peak_mb"] + 0 > rss[k, t] + 0) rss[k, t] = f["rss_peak_mb"]
}
function avg(a, k, t) { return cnt[k, t] ? a[k, t] / cnt[k, t] : 0 }
END {
  print "| query | conc | ours req/s | PostGraphile req/s | ratio | ours p99 ms | PostGraphile p99 ms | our SQL ceiling req/s | ours / ceiling | ours RSS MB | PostGraphile RSS MB |"
  print "|---|---|---|---|---|---|---|---|---|---|---|"
  for (i = 1; i <= n; i++) { k = keys[i]; split(k, qc, " ")
    o = avg(rps, k, "server"); p = avg(rps, k, "postgraphile"); c = avg(rps, k, "pgbench-ours")
    printf "| %s | %s | %.0f | %.0f | %s | %.1f | %.1f | %s | %s | %s | %s |\n", qc[1], qc[2], o, p,
      (p ? sprintf("%.2fx", o / p) : "-"), avg(p99, k, "server"), avg(p99, k, "postgraphile"),
      (c ? sprintf("%.0f", c) : "-"), (c ? sprintf("%.0f%%", 100 * o / c) : "-"),
      rss[k, "server"], rss[k, "postgraphile"]
  }
}' "$@"
