#!/usr/bin/env bash
# The NATS kill test at full size (docs/nats.md): 100,000 records forwarded over a real
# `nats-server -js` while the server, the consumer and the forwarder are each SIGKILLed and
# restarted; prints the records a second end to end. RECORDS=N to change the size.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v nats-server >/dev/null || { echo "bench/nats/run.sh: nats-server is missing (scripts/test installs it)" >&2; exit 1; }
TRUCE_NATS_RECORDS="${RECORDS:-100000}" cargo test --release -p truce --test nats -- --nocapture 2>&1 \
  | grep -E '^nats:|test result|panicked'
