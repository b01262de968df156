#!/usr/bin/env bash
# The web app's map against issue 12's budget, in headless Chromium over loopback:
#
#   bench/dashboard/run.sh [N]       # N FIRMS hotspots for the large store (default 100,000)
#
# Makes two stores: the demo (`truce demo`, ≈4,800 incidents) and one of N generated FIRMS
# hotspots (bench/ingest/gen.py, `truce ingest` makes about one incident per hotspot; the
# count the API gives is printed). For each store it starts `truce serve --listen
# 127.0.0.1:0`, publishes PUBLISH (default 1,000) of its incidents (bench/dashboard/publish.py,
# once per store), and for an analyst (token from `truce token create`) and the public (no token)
# runs bench/dashboard/measure.py: first meaningful paint, long tasks during the load and
# during ten 300 px drags and two zooms, and the /api/incidents requests and bytes per pan;
# RUNS (default 3) fresh browsers each, medians printed. Budget: FMP < 1.5 s, no long task
# > 100 ms while panning, the incidents fetched in pages for the view (never the whole table).
# Record results in docs/benchmarks.md with `date -u`, the machine and its load (printed).
# STATE=verified runs the same pans on a map filtered to a state none of the 100,000 is in (an
# empty incident layer): the baseline of what MapLibre's frames cost without incidents.
# TRUCE_BIN=path measures another build (e.g. main's, for a before/after). Needs chromium,
# chromium-driver and python3-selenium (scripts/test installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
DIR=${BENCH_DIR:-/tmp/truce-dash-bench}
[ -n "${TRUCE_BIN:-}" ] || cargo build --release -p truce --locked
BIN=$(realpath "${TRUCE_BIN:-target/release/truce}")
AGREEMENT=$PWD/scenarios/donbas-2015/agreement.toml
MEASURE=$PWD/bench/dashboard/measure.py
mkdir -p "$DIR"
machine() { echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uptime)"; }
date -u
machine

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

# The stores, made once per N and binary (delete $DIR to start again).
if [ ! -f "$DIR/demo/truce.gpkg" ]; then
  rm -rf "$DIR/demo"
  "$BIN" demo --out "$DIR/demo" >/dev/null
fi
if [ ! -f "$DIR/n$N/truce.gpkg" ]; then
  rm -rf "$DIR/n$N"
  mkdir -p "$DIR/n$N"
  [ -f "$DIR/firms_$N.csv" ] || python3 bench/ingest/gen.py "$N" "$DIR" >/dev/null
  start=$(date +%s)
  "$BIN" ingest --db "$DIR/n$N/truce.gpkg" --agreement "$AGREEMENT" "$DIR/firms_$N.csv" >/dev/null
  echo "ingested $N FIRMS hotspots in $(($(date +%s) - start)) s"
fi

# serve DB: starts `truce serve` on a free port, leaves its base URL in $URL.
serve() {
  local out=$1.serve.out
  "$BIN" serve --db "$1" --listen 127.0.0.1:0 >"$out" 2>"$1.serve.err" &
  PIDS+=($!)
  URL=""
  for _ in $(seq 1200); do
    URL=$(sed -n 's/^truce serve: listening on \(http:[^ ]*\)$/\1/p' "$out")
    [ -n "$URL" ] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$1.serve.err"; exit 1; }
    sleep 0.1
  done
  [ -n "$URL" ] || { echo "truce serve did not say where it listens"; exit 1; }
}

total() {
  curl -fs ${2:+-H "Authorization: Bearer $2"} "$1/api/incidents?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'
}

for store in demo "n$N"; do
  db=$DIR/$store/truce.gpkg
  [ -f "$DIR/$store/analyst.token" ] ||
    "$BIN" token create --db "$db" --role analyst --name dash-bench 2>/dev/null >"$DIR/$store/analyst.token"
  token=$(cat "$DIR/$store/analyst.token")
  serve "$db"
  # The public sees published incidents only: PUBLISH (default 1,000) are verified and
  # published once per store, spread over it, so its map has incidents to draw.
  if [ ! -f "$DIR/$store/published" ]; then
    python3 bench/dashboard/publish.py "$URL" "$token" "${PUBLISH:-1000}" >"$DIR/$store/published"
  fi
  echo "== store $store: $(total "$URL" "$token") incidents (analyst), $(total "$URL") published (public); $URL"
  for role in analyst public; do
    machine
    if [ "$role" = analyst ]; then
      python3 "$MEASURE" "$URL" "$store/$role" "$token"
    else
      python3 "$MEASURE" "$URL" "$store/$role"
    fi
  done
  kill "${PIDS[-1]}" 2>/dev/null || true
  wait "${PIDS[-1]}" 2>/dev/null || true
done
machine
