#!/usr/bin/env bash
# PostgreSQL/PostGIS against the embedded GeoPackage, in the same run (issue 15 goal 5):
#
#   bench/postgres/run.sh [N]     # N FIRMS observations (default 200,000)
#
# 1. ingest: `truce ingest` of the same FIRMS CSV into a fresh GeoPackage and into a fresh
#    PostgreSQL database (a throw-away cluster on its own port, scripts/pg-cluster), with GDAL's
#    `ogr2ogr -f PostgreSQL` of the CSV as the plain-load peer: wall time, obs/s, store size;
# 2. reads: the analyst's incident list (bbox) with wrk against one `truce serve` on the
#    GeoPackage, one on PostgreSQL, and two replicas on the same database at once.
# Record the output in docs/benchmarks.md with the date, the machine and `uptime`.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200000}
DIR=${BENCH_DIR:-/tmp/truce-pg-bench}
PORT=${PG_PORT:-55499}
DURATION=${DURATION:-15s}
[ -n "${TRUCE_BIN:-}" ] || cargo build --release -p truce --locked
BIN=$(realpath "${TRUCE_BIN:-target/release/truce}")
AGREEMENT=$PWD/scenarios/donbas-2015/agreement.toml
mkdir -p "$DIR"
[ -f "$DIR/firms_$N.csv" ] || python3 bench/ingest/gen.py "$N" "$DIR"
for tool in wrk /usr/bin/time ogr2ogr; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk time gdal-bin; }
done
scripts/pg-cluster stop "$DIR/pg" 2>/dev/null || true
rm -rf "$DIR/pg"
URL=$(scripts/pg-cluster start "$DIR/pg" "$PORT")
BASE=${URL%/postgres}
ROOT=$PWD
trap 'kill $(jobs -p) 2>/dev/null || true; "$ROOT/scripts/pg-cluster" stop "$DIR/pg"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uptime)"
KEY=$DIR/bench.log.key
rm -f "$KEY"; "$BIN" log keygen --out "$KEY" truce.bench/log >/dev/null

timed() { # NAME BYTES-CMD CMD...: prints wall time, obs/s and the store's size
  local name=$1 size=$2; shift 2
  /usr/bin/time -f "%e %M" -o "$DIR/time.txt" "$@" >/dev/null 2>"$DIR/err.txt" || { cat "$DIR/err.txt"; exit 1; }
  read -r secs kib < "$DIR/time.txt"
  local bytes; bytes=$(eval "$size")
  python3 -c "
n, s, k, b = $N, $secs, $kib, $bytes
print(f'{\"$name\":34s} {s:7.2f} s, {n / s:>8,.0f} obs/s, {k / 1024:5.0f} MiB peak (client), {b / 1e6:7.1f} MB, {b / n:5.0f} B/obs')"
}
pgsize() { psql -XAt "$BASE/$1" -c "SELECT pg_database_size(current_database())"; }

cd "$DIR"
rm -f bench.gpkg*
psql -XAq "$URL" -c "CREATE DATABASE gdal" && psql -XAq "$BASE/gdal" -c "CREATE EXTENSION postgis"
timed "ogr2ogr -f PostgreSQL (FIRMS CSV)" "pgsize gdal" ogr2ogr -f PostgreSQL "PG:host=127.0.0.1 port=$PORT user=postgres dbname=gdal" \
  "firms_$N.csv" -oo X_POSSIBLE_NAMES=longitude -oo Y_POSSIBLE_NAMES=latitude -oo AUTODETECT_TYPE=YES -a_srs EPSG:4326 -lco SPATIAL_INDEX=GIST
timed "truce ingest → GeoPackage" "stat -c %s bench.gpkg" "$BIN" ingest --db bench.gpkg --agreement "$AGREEMENT" --log-key "$KEY" "firms_$N.csv"
timed "truce ingest → PostgreSQL" "pgsize bench" "$BIN" ingest --db "$BASE/bench" --agreement "$AGREEMENT" --log-key "$KEY" "firms_$N.csv"
echo "log roots (must be equal):"
"$BIN" log checkpoint --db bench.gpkg | sed -n 3p
"$BIN" log checkpoint --db "$BASE/bench" | sed -n 3p

# Reads: the analyst's list in a box, through truce serve.
TOKEN_G=$("$BIN" token create --db bench.gpkg --role analyst --name bench 2>/dev/null)
TOKEN_P=$("$BIN" token create --db "$BASE/bench" --role analyst --name bench 2>/dev/null)
Q="/api/incidents?bbox=37.5,47.8,38.5,48.5&limit=50"
serve() { # DB PORT: a server in the background
  "$BIN" serve --db "$1" --log-key "$KEY" --listen "127.0.0.1:$2" --rate 10000000 --rate-per-address 10000000 >/dev/null 2>&1 &
  for _ in $(seq 600); do curl -fs "http://127.0.0.1:$2/healthz" >/dev/null && return; sleep 0.1; done
  echo "serve on port $2 did not start"; exit 1
}
summary() { grep -E "Requests/sec|99%|Non-2xx" | tr -s ' ' | paste -sd ' '; }
serve bench.gpkg 18301
echo "== one server, GeoPackage: $(wrk -t2 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN_G" "http://127.0.0.1:18301$Q" | summary)"
serve "$BASE/bench" 18302
echo "== one server, PostgreSQL: $(wrk -t2 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN_P" "http://127.0.0.1:18302$Q" | summary)"
serve "$BASE/bench" 18303
echo "== two replicas, PostgreSQL, each loaded at once:"
wrk -t1 -c16 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN_P" "http://127.0.0.1:18302$Q" | summary | sed 's/^/   replica 1: /' &
W=$!
wrk -t1 -c16 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN_P" "http://127.0.0.1:18303$Q" | summary | sed 's/^/   replica 2: /'
wait $W
