#!/usr/bin/env bash
# Load on `truce serve` over loopback with wrk (Debian's package): reads of
# /api/incidents?bbox=… and batched ingest through POST /api/observations. Prints wrk's
# summaries; record them in docs/benchmarks.md with date and machine. Both rate limits (per
# token, per address) are lifted: wrk is one address and one token. Check that wrk reports no
# "Non-2xx or 3xx responses": a run that counts refusals measures the limiter.
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=${BENCH_DIR:-/tmp/truce-serve-bench}
DURATION=${DURATION:-20s}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ -n "${TRUCE_BIN:-}" ] || cargo build --release -p truce --locked
rm -rf "$DIR"
${TRUCE_BIN:-target/release/truce} demo --out "$DIR" >/dev/null
TOKEN=$(${TRUCE_BIN:-target/release/truce} token create --db "$DIR/truce.gpkg" --role analyst --name bench 2>/dev/null)
export TOKEN
${TRUCE_BIN:-target/release/truce} serve --db "$DIR/truce.gpkg" --listen 127.0.0.1:18181 --rate 10000000 --rate-per-address 10000000 >"$DIR/serve.out" 2>/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -fs http://127.0.0.1:18181/healthz >/dev/null && break; sleep 0.1; done
# The analyst's list: a box; a box and a time window; a box and a state.
for q in "bbox=37.5,47.8,38.5,48.5&limit=50" \
  "bbox=37.5,47.8,38.5,48.5&from=2016-01-01T00:00:00Z&to=2024-01-01T00:00:00Z&limit=50" \
  "bbox=37.5,47.8,38.5,48.5&state=single_source&limit=50"; do
  total=$(curl -fs -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:18181/api/incidents?$q" | sed 's/^{"total":\([0-9]*\).*/\1/')
  echo "== GET /api/incidents?$q (analyst; $total match), 2 threads, 32 connections"
  wrk -t2 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:18181/api/incidents?$q"
done
echo "== GET /api/incidents?bbox=…&limit=50 (public: published only)"
wrk -t2 -c32 -d"$DURATION" --latency "http://127.0.0.1:18181/api/incidents?bbox=37.5,47.8,38.5,48.5&limit=50"
echo "== POST /api/observations, batches of ${BATCH:-1000}, 2 threads, 2 connections"
BATCH=${BATCH:-1000} wrk -t2 -c2 -d"$DURATION" --latency -s bench/serve/post.lua http://127.0.0.1:18181
curl -fs -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18181/healthz
echo
