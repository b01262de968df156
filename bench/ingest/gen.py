#!/usr/bin/env python3
"""Writes N deterministic observations over the Donbas as a FIRMS CSV and as observation GeoJSON.

    python3 bench/ingest/gen.py 1000000 /tmp/truce-bench

Points follow a Weyl sequence over 36.5–40.5 E, 46.8–49.6 N (both sides of the line, all zones);
times spread over March 2015; every record is distinct, so nothing is a duplicate.
"""
import json
import os
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
out = sys.argv[2] if len(sys.argv) > 2 else "/tmp/truce-bench"
os.makedirs(out, exist_ok=True)
A, B = 0.6180339887498949, 0.7548776662466927

with open(os.path.join(out, f"firms_{n}.csv"), "w") as f:
    f.write("latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_t31,frp,daynight\n")
    for i in range(n):
        lon = 36.5 + 4.0 * ((i * A) % 1.0)
        lat = 46.8 + 2.8 * ((i * B) % 1.0)
        day = 1 + i % 28
        hhmm = (i // 28) % 1440
        f.write(f"{lat:.5f},{lon:.5f},{300 + i % 60}.5,0.39,0.36,2015-03-{day:02d},{hhmm // 60 * 100 + hhmm % 60},N,VIIRS,{'lnh'[i % 3]},2.0NRT,290.1,{1 + i % 40}.2,D\n")

kinds = ["explosion", "impact", "firing", "weapon_present", "construction", "thermal_anomaly"]
classes = ["artillery_100mm_plus", "mlrs", "heavy_mlrs_tochka"]
with open(os.path.join(out, f"observations_{n}.geojson"), "w") as f:
    f.write('{"type":"FeatureCollection","features":[\n')
    for i in range(n):
        lon = 36.5 + 4.0 * ((i * A) % 1.0)
        lat = 46.8 + 2.8 * ((i * B) % 1.0)
        kind = kinds[i % len(kinds)]
        props = {
            "kind": kind,
            "observed_at": f"2015-03-{1 + i % 28:02d}T{(i // 28) % 24:02d}:{i % 60:02d}:00Z",
            "source": {"id": f"uav-{i % 50}", "kind": "drone", "reliability": "B", "credibility": 2},
            "error_radius_m": 25 + i % 200,
        }
        if kind == "weapon_present":
            props["weapon"] = {"class": classes[i % 3], "count": 1 + i % 6}
        feat = {"type": "Feature", "id": f"bench-{i}", "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}, "properties": props}
        f.write(("," if i else "") + json.dumps(feat, separators=(",", ":")) + "\n")
    f.write("]}\n")
print(out)
