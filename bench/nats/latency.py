#!/usr/bin/env python3
"""End-to-end latency from a forward base's report to the analyst's alert stream (issue 15 goal 5).

    python3 bench/nats/latency.py [N]     # N reports, one at a time (default 20)

Starts a real `nats-server -js`, a store with the Donbas terms, `truce serve --nats … --stream
TRUCE`, and subscribes to `GET /api/alerts/stream` as an analyst. Then, N times: writes one
report (new construction in the disengagement area: a critical breach, alerted), runs `truce
forward` on it (spool, publish, wait for JetStream's ack, exit) and times from just before the
forwarder starts to the alert's arrival on the stream. Prints each latency and the median, p90
and max. The forwarder's own start (a process, a spool file) is inside the figure: it is what a
base sees. Record the output in docs/benchmarks.md with the date, the machine and `uptime`.
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("TRUCE_BIN", os.path.join(ROOT, "target/release/truce"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


def main():
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--release", "-p", "truce", "--locked"], cwd=ROOT, check=True)
    d = tempfile.mkdtemp(prefix="truce-nats-latency-")
    procs = []
    try:
        nats_port, http_port = free_port(), free_port()
        procs.append(subprocess.Popen(
            ["nats-server", "-js", "-p", str(nats_port), "-sd", os.path.join(d, "js")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(nats_port, "nats-server")
        db, key = os.path.join(d, "hq.gpkg"), os.path.join(d, "hq.log.key")
        agreement = os.path.join(ROOT, "scenarios/donbas-2015/agreement.toml")
        subprocess.run([BIN, "log", "keygen", "--out", key, "truce.bench/hq"], check=True, capture_output=True)
        subprocess.run([BIN, "ingest", "--db", db, "--agreement", agreement, "--log-key", key,
                        os.path.join(ROOT, "scenarios/donbas-2015/observations.geojson")],
                       check=True, capture_output=True)
        token = subprocess.run([BIN, "token", "create", "--db", db, "--role", "analyst", "--name", "bench"],
                               check=True, capture_output=True, text=True).stdout.strip()
        url = f"nats://127.0.0.1:{nats_port}"
        procs.append(subprocess.Popen(
            [BIN, "serve", "--db", db, "--log-key", key, "--listen", f"127.0.0.1:{http_port}",
             "--nats", url, "--stream", "TRUCE", "--nats-batch", "100"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "serve.log"), "w")))
        wait_port(http_port, "truce serve")

        arrivals = []
        cond = threading.Condition()

        def listen():
            req = urllib.request.Request(f"http://127.0.0.1:{http_port}/api/alerts/stream",
                                         headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=600) as r:
                for line in r:
                    if line.startswith(b"event: breach"):
                        with cond:
                            arrivals.append(time.monotonic())
                            cond.notify_all()

        threading.Thread(target=listen, daemon=True).start()
        time.sleep(1.0)
        print(f"machine: {os.cpu_count()} cores; {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        latencies = []
        spool = os.path.join(d, "base.spool")
        for i in range(N):
            feature = {"type": "Feature", "id": f"lat-{i}",
                       "geometry": {"type": "Point", "coordinates": [39.4154811, 48.6111027]},
                       "properties": {"kind": "construction",
                                      "observed_at": f"2015-04-{1 + i // 24:02d}T{i % 24:02d}:00:00Z",
                                      "source": {"id": "team-3", "kind": "ground_team",
                                                 "reliability": "A", "credibility": 1}}}
            path = os.path.join(d, f"report-{i}.geojson")
            with open(path, "w") as f:
                json.dump({"type": "FeatureCollection", "features": [feature]}, f)
            seen = len(arrivals)
            t0 = time.monotonic()
            subprocess.run([BIN, "forward", "--nats", url, "--subject", "truce.observations.base-1",
                            "--spool", spool, path], check=True, capture_output=True)
            with cond:
                if not cond.wait_for(lambda: len(arrivals) > seen, timeout=30):
                    sys.exit(f"report {i}: no alert within 30 s")
                latencies.append(arrivals[seen] - t0)
            print(f"report {i:3d}: {latencies[-1] * 1000:7.1f} ms from `truce forward` to the analyst's stream")
            time.sleep(0.3)
        q = sorted(latencies)
        print(f"median {statistics.median(q) * 1000:.0f} ms, p90 {q[int(0.9 * (len(q) - 1))] * 1000:.0f} ms, "
              f"max {q[-1] * 1000:.0f} ms over {N} reports (goal < 1 s)")
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


if __name__ == "__main__":
    main()
