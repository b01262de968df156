#!/usr/bin/env bash
# End-to-end ingest benchmark: parse → validate → assess → store, 1,000,000 observations in
# FIRMS CSV and in GeoJSON, into a fresh GeoPackage each; prints wall time, observations/s and
# peak memory (GNU time's maximum resident set size). Record results in docs/benchmarks.md.
# TRUCE_BIN=path runs another build (e.g. the previous commit's, for a before/after).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
DIR=${BENCH_DIR:-/tmp/truce-bench}
[ -n "${TRUCE_BIN:-}" ] || cargo build --release -p truce --locked
BIN=${TRUCE_BIN:-target/release/truce}
[ -f "$DIR/firms_$N.csv" ] || python3 bench/ingest/gen.py "$N" "$DIR"
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
for feed in "firms_$N.csv" "observations_$N.geojson"; do
  rm -f "$DIR/bench.gpkg" "$DIR/bench.gpkg-wal" "$DIR/bench.gpkg-shm"
  /usr/bin/time -f "%e s wall, %M KiB max RSS" -o "$DIR/time.txt" \
    "$BIN" ingest --db "$DIR/bench.gpkg" --agreement scenarios/donbas-2015/agreement.toml "$DIR/$feed" >/dev/null
  secs=$(cut -d' ' -f1 "$DIR/time.txt")
  echo "$feed: $(cat "$DIR/time.txt"), $(python3 -c "print(f'{$N/$secs:,.0f}')") observations/s, store $(du -h "$DIR/bench.gpkg" | cut -f1)"
done
