#!/usr/bin/env bash
# Reads while a writer stores: one connection posts batches of 1,000 observations
# (bench/serve/post.lua) for 12 s while 32 connections read the analyst's incident list for
# 10 s. Shows whether a read waits for the writer. Usage: bench/serve/mixed.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${TRUCE_BIN:-target/release/truce}
DIR=${BENCH_DIR:-/tmp/truce-serve-mixed}
PORT=${1:-18182}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ -n "${TRUCE_BIN:-}" ] || cargo build --release -p truce --locked
rm -rf "$DIR"
$BIN demo --out "$DIR" >/dev/null
TOKEN=$($BIN token create --db "$DIR/truce.gpkg" --role analyst --name mixed 2>/dev/null)
export TOKEN
$BIN serve --db "$DIR/truce.gpkg" --listen 127.0.0.1:$PORT --rate 10000000 --rate-per-address 10000000 >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 300); do curl -fs http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
BATCH=1000 wrk -t1 -c1 -d12s -s bench/serve/post.lua http://127.0.0.1:$PORT >"$DIR/post.txt" &
WPID=$!
sleep 1
echo "== GET /api/incidents?bbox=37.5,47.8,38.5,48.5&limit=50 (analyst) while batches are posted"
wrk -t2 -c32 -d10s --latency -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$PORT/api/incidents?bbox=37.5,47.8,38.5,48.5&limit=50"
wait $WPID || true
echo "== POST /api/observations meanwhile"
cat "$DIR/post.txt"
