#!/usr/bin/env bash
# End-to-end ingest benchmark, with GDAL as the peer in the same run (issue 14).
#
#   bench/ingest/run.sh [N]          # N observations (default 1,000,000)
#
# Generates N distinct observations (bench/ingest/gen.py) as a FIRMS VIIRS CSV and as
# observation GeoJSON, then, each into a fresh file and timed by GNU time:
#   1. `ogr2ogr -f GPKG` of the FIRMS CSV (GDAL's plain load: points and attribute columns);
#   2. `truce ingest` of the FIRMS CSV (parse, validate, assess, log with Merkle tree and a
#      signed checkpoint per batch, store, fuse into incidents);
#   3. `truce ingest` of the GeoJSON.
# Prints wall and CPU time, observations/s, peak memory, file size and bytes per observation,
# and Truce's speed as a multiple of ogr2ogr's. Record results in docs/benchmarks.md with the
# date, the machine and its load (`uptime`): on a shared 2-core machine wall times move by ±20%.
# TRUCE_BIN=path runs another build (e.g. the previous commit's, for a before/after).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
DIR=${BENCH_DIR:-/tmp/truce-bench}
[ -n "${TRUCE_BIN:-}" ] || cargo build --release -p truce --locked
BIN=$(realpath "${TRUCE_BIN:-target/release/truce}")
AGREEMENT=$PWD/scenarios/donbas-2015/agreement.toml
[ -f "$DIR/firms_$N.csv" ] || python3 bench/ingest/gen.py "$N" "$DIR"
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time; }
command -v ogr2ogr >/dev/null || { apt-get update -qq && apt-get install -y -qq gdal-bin; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uptime)"

# run NAME OUT CMD...: times CMD writing OUT, prints one line, leaves the wall time in $secs.
run() {
  local name=$1 out=$2; shift 2
  rm -f "$out" "$out-wal" "$out-shm"
  /usr/bin/time -f "%e %U %S %M" -o "$DIR/time.txt" "$@" >/dev/null
  read -r secs user sys kib < "$DIR/time.txt"
  local bytes; bytes=$(stat -c %s "$out")
  python3 -c "
n, s, u, y, k, b = $N, $secs, $user, $sys, $kib, $bytes
print(f'{\"$name\":28s} {s:7.2f} s wall ({u + y:6.2f} s CPU), {n / s:>9,.0f} obs/s, {k / 1024:6.0f} MiB peak, {b / 1e6:7.1f} MB, {b / n:5.0f} B/obs')"
}

cd "$DIR"
run "ogr2ogr -f GPKG (FIRMS CSV)" gdal.gpkg ogr2ogr -f GPKG gdal.gpkg "firms_$N.csv" \
  -oo X_POSSIBLE_NAMES=longitude -oo Y_POSSIBLE_NAMES=latitude -oo AUTODETECT_TYPE=YES -a_srs EPSG:4326
gdal=$secs
run "truce ingest (FIRMS CSV)" bench.gpkg "$BIN" ingest --db bench.gpkg --agreement "$AGREEMENT" "firms_$N.csv"
python3 -c "print(f'truce ingest / ogr2ogr: {$gdal / $secs:.2f}x the speed (above 1: faster than GDAL)')"
run "truce ingest (GeoJSON)" bench.gpkg "$BIN" ingest --db bench.gpkg --agreement "$AGREEMENT" "observations_$N.geojson"
