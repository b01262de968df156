#!/usr/bin/env bash
# Restart benchmark (issue 14, goal 3): how long `truce serve` takes to answer, and how much
# memory it holds, on a store of N observations — from its ledger snapshot, and replaying the
# whole log (the snapshot removed from a copy) in the same run.
#
#   bench/restart/run.sh [N]        # N FIRMS observations (default 1,000,000)
#
# Generates the FIRMS CSV with bench/ingest/gen.py (shared with bench/ingest), ingests it with
# `truce ingest` (which writes the snapshot at exit), then starts `truce serve` three times on
# each store and reports the median time from spawn to "listening" (the store opened, the
# ledger restored or replayed, the derived tables checked) and the server's resident memory
# then (VmRSS), per observation. Record results in docs/benchmarks.md with date and machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
DIR=${BENCH_DIR:-/tmp/truce-bench}
mkdir -p "$DIR"
[ -n "${TRUCE_BIN:-}" ] || cargo build --release -p truce --locked
BIN=$(realpath "${TRUCE_BIN:-target/release/truce}")
AGREEMENT=$PWD/scenarios/donbas-2015/agreement.toml
[ -f "$DIR/firms_$N.csv" ] || python3 bench/ingest/gen.py "$N" "$DIR"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uptime)"
cd "$DIR"
STORE=restart_$N.gpkg
if [ ! -f "$STORE" ]; then
  /usr/bin/time -f "ingest: %e s wall, %M KiB peak" "$BIN" ingest --db "$STORE" \
    --agreement "$AGREEMENT" "firms_$N.csv" > /dev/null
fi
rm -f replay_$N.gpkg* && cp "$STORE" replay_$N.gpkg && cp "$STORE.log.key" replay_$N.gpkg.log.key
python3 - "$STORE" "replay_$N.gpkg" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[2]); c.execute("DELETE FROM ledger_snapshots"); c.commit(); c.close()
c = sqlite3.connect(sys.argv[1])
size, blob = c.execute("SELECT size, length(state) FROM ledger_snapshots").fetchone() or (0, 0)
print(f"snapshot: at size {size:,}, {blob / 1e6:.1f} MB")
PY
python3 - "$BIN" "$N" "$STORE" "replay_$N.gpkg" <<'PY'
import sqlite3, statistics, subprocess, sys, time
bin_, n = sys.argv[1], int(sys.argv[2])
def start(db):
    if db == sys.argv[4]:
        # A server that folded the log writes a snapshot when it stops: drop it again, or
        # the second and third "replays" would start from it.
        c = sqlite3.connect(db); c.execute("DELETE FROM ledger_snapshots"); c.commit(); c.close()
    t0 = time.monotonic()
    p = subprocess.Popen([bin_, "serve", "--db", db, "--listen", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if line.startswith("truce serve: listening on"):
            break
    took = time.monotonic() - t0
    rss = next(int(l.split()[1]) for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS"))
    p.terminate(); p.wait()
    return took, rss * 1024
for name, db in [("from its snapshot", sys.argv[3]), ("replaying the log", sys.argv[4])]:
    runs = [start(db) for _ in range(3)]
    took = statistics.median(r[0] for r in runs)
    rss = statistics.median(r[1] for r in runs)
    print(f"truce serve {name:18s}: answers after {took:6.2f} s, {rss / 2**20:7.0f} MiB resident, {rss / n:6.0f} B/obs")
PY
