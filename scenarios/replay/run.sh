#!/bin/sh
# Generate the replay scenario for each seed given, ingest it, and score it (ours vs DBSCAN).
#   scenarios/replay/run.sh 1 2 3        (TRUCE=path/to/truce, default target/release/truce)
set -e
here=$(cd "$(dirname "$0")" && pwd)
truce=${TRUCE:-$here/../../target/release/truce}
for seed in "$@"; do
  out=$(mktemp -d)
  python3 "$here/generate.py" --seed "$seed" --out "$out"
  "$truce" ingest --db "$out/truce.gpkg" --agreement "$here/../donbas-2015/agreement.toml" \
    "$out/firms_viirs.csv" "$out"/cot/*.xml > /dev/null || [ $? -eq 2 ]
  echo "seed $seed"
  "$truce" score --db "$out/truce.gpkg" --truth "$out/truth.json" ${SCORE_FLAGS:-}
  rm -rf "$out"
done
