#!/usr/bin/env python3
"""Compare truce-geo with shapely, PostGIS and a GeographicLib brute force.

Generates N deterministic random points within ~300 km of a line, then computes distances to
the line and membership in areas with:

  (a) truce-geo, through `cargo run --release --example distances` (one core);
  (b) shapely 2, prepared geometry + contains_xy, for membership only (shapely's distance is
      planar in degrees, so it is not comparable);
  (c) PostGIS geography ST_Distance (spheroid) and ST_Covers, in a throwaway cluster started
      for the run on a loopback port and removed afterwards; parallel query is off so that it
      uses one core like the others; ST_Covers on geometry (straight lon/lat edges, the same
      semantics as truce-geo) is also run, for the agreement check;
  (d) GeographicLib (Python) brute force on a subset: golden-section search along every edge
      geodesic, the same method as truce_geo::reference.

Prints speed ratios and the largest distance differences. See README.md.
"""

import argparse
import csv
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from geographiclib.geodesic import Geodesic

REPO = Path(__file__).resolve().parents[2]
MAX_RANGE_M = 300_000.0
PG_BIN = Path("/usr/lib/postgresql/15/bin")
GEOD = Geodesic.WGS84


# ------------------------------------------------------------------ inputs


def geometries(path):
    data = json.loads(Path(path).read_text())
    if data.get("type") == "FeatureCollection":
        return [f["geometry"] for f in data["features"]]
    if data.get("type") == "Feature":
        return [data["geometry"]]
    return [data]


def read_lines(path):
    """LineStrings as they are; polygon rings as lines (a front line from an area's boundary)."""
    lines = []
    for g in geometries(path):
        c = g["coordinates"]
        if g["type"] == "LineString":
            lines.append(c)
        elif g["type"] in ("MultiLineString", "Polygon"):
            lines.extend(c)
        elif g["type"] == "MultiPolygon":
            lines.extend(ring for poly in c for ring in poly)
    return lines


def read_area(path):
    """All polygons of the file as one MultiPolygon GeoJSON geometry."""
    polys = []
    for g in geometries(path):
        if g["type"] == "Polygon":
            polys.append(g["coordinates"])
        elif g["type"] == "MultiPolygon":
            polys.extend(g["coordinates"])
    return {"type": "MultiPolygon", "coordinates": polys}


def make_points(lines, n, seed):
    """A random edge (uniform over edges), a random point on it, moved 0-300 km in a random
    direction. Deterministic for a given seed."""
    rng = random.Random(seed)
    edges = [(l[i], l[i + 1]) for l in lines for i in range(len(l) - 1)]
    out = []
    for _ in range(n):
        a, b = edges[rng.randrange(len(edges))]
        inv = GEOD.Inverse(a[1], a[0], b[1], b[0])
        on = GEOD.Direct(a[1], a[0], inv["azi1"], rng.random() * inv["s12"])
        p = GEOD.Direct(on["lat2"], on["lon2"], rng.random() * 360.0, rng.random() * MAX_RANGE_M)
        out.append((p["lon2"], p["lat2"]))
    return out


# ------------------------------------------------------------------ (a) truce-geo


def run_truce(workdir, line_path, areas, points_csv, repeat, build):
    if build:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "truce-geo", "--example", "distances"],
            cwd=REPO,
            check=True,
        )
    exe = REPO / "target" / "release" / "examples" / "distances"
    out = workdir / "truce.csv"
    cmd = [str(exe), "--line", str(line_path), "--points", str(points_csv), "--out", str(out)]
    cmd += ["--repeat", str(repeat)]
    for name, path in areas:
        cmd += ["--area", f"{name}={path}"]
    timing = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    rows = list(csv.DictReader(out.open()))
    return timing, rows


# ------------------------------------------------------------------ (b) shapely


def run_shapely(area_geojson, xs, ys, repeat):
    import numpy as np
    import shapely

    geom = shapely.geometry.shape(area_geojson)
    shapely.prepare(geom)
    x, y = np.asarray(xs), np.asarray(ys)
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        inside = shapely.contains_xy(geom, x, y)
        best = min(best, time.perf_counter() - t)
    return best, inside, shapely.__version__


# ------------------------------------------------------------------ (c) PostGIS


class Postgis:
    """A throwaway cluster in a temporary directory, on 127.0.0.1."""

    def __init__(self, workdir, port):
        self.dir = workdir / "pg"
        self.port = port
        self.data = self.dir / "data"
        self.dir.mkdir()
        if os.geteuid() == 0:
            # initdb refuses to run as root; the cluster belongs to the postgres user.
            shutil.chown(self.dir, "postgres", "postgres")
        self.run_as([PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres"])
        opts = f"-p {port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        opts += " -c max_parallel_workers_per_gather=0 -c shared_buffers=256MB -c work_mem=256MB"
        self.run_as([PG_BIN / "pg_ctl", "-D", self.data, "-o", opts, "-w", "-l", self.dir / "log", "start"])
        self.run_as([PG_BIN / "createdb", "-h", self.dir, "-p", str(port), "bench"])

    def run_as(self, cmd, **kw):
        cmd = [str(c) for c in cmd]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, **kw)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
        return r

    def psql(self, script):
        path = self.dir / "script.sql"
        path.write_text(script)
        os.chmod(path, 0o644)
        r = self.run_as(["psql", "-h", self.dir, "-p", str(self.port), "-d", "bench", "-X", "-q",
                         "-v", "ON_ERROR_STOP=1", "-f", path])
        return r.stdout

    def timed(self, label, statement):
        """Wall time of one statement, as psql's \\timing reports it (server round trip)."""
        out = self.psql(f"\\timing on\n\\echo MARK {label}\n{statement}\n")
        after = out.split(f"MARK {label}", 1)[1]
        line = next(l for l in after.splitlines() if l.startswith("Time:"))
        return float(line.split()[1]) / 1000.0

    def version(self):
        return self.psql("\\pset tuples_only on\n\\pset format unaligned\nSELECT version() || ' / PostGIS ' || postgis_lib_version();").strip()

    def stop(self):
        self.run_as([PG_BIN / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"])


def run_postgis(workdir, port, lines, areas, points_csv, repeat):
    pg = Postgis(workdir, port)
    try:
        multiline = json.dumps({"type": "MultiLineString", "coordinates": lines})
        setup = [
            "CREATE EXTENSION postgis;",
            "CREATE TABLE pts (id int PRIMARY KEY, lon float8, lat float8);",
            f"\\copy pts FROM '{points_csv}' CSV HEADER",
            "ALTER TABLE pts ADD COLUMN g geography(Point, 4326), ADD COLUMN gm geometry(Point, 4326);",
            "UPDATE pts SET g = ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography,"
            " gm = ST_SetSRID(ST_MakePoint(lon, lat), 4326);",
            f"CREATE TABLE line AS SELECT ST_SetSRID(ST_GeomFromGeoJSON('{multiline}'), 4326)::geography AS g;",
        ]
        for name, geojson in areas:
            setup.append(
                f"CREATE TABLE area_{name} AS SELECT ST_SetSRID(ST_GeomFromGeoJSON('{json.dumps(geojson)}'), 4326) AS gm;"
            )
            setup.append(f"ALTER TABLE area_{name} ADD COLUMN g geography; UPDATE area_{name} SET g = gm::geography;")
        setup.append("VACUUM ANALYZE;")
        pg.psql("\n".join(setup))
        version = pg.version()

        def best(label, statement, table):
            t = math.inf
            for k in range(repeat):
                pg.psql(f"DROP TABLE IF EXISTS {table};")
                t = min(t, pg.timed(f"{label}{k}", statement))
            return t

        timings = {}
        timings["scan_s"] = best("scan", "CREATE TABLE scan AS SELECT p.id FROM pts p, line l;", "scan")
        timings["distance_s"] = best(
            "dist", "CREATE TABLE dist AS SELECT p.id, ST_Distance(p.g, l.g) AS d FROM pts p, line l;", "dist"
        )
        out = pg.dir / "pg_dist.csv"
        pg.psql(f"\\copy (SELECT id, d FROM dist ORDER BY id) TO '{out}' CSV")
        distances = {int(r[0]): float(r[1]) for r in csv.reader(out.open())}
        membership = {}
        for name, _ in areas:
            for kind, col in (("geography", "g"), ("geometry", "gm")):
                table = f"cov_{name}_{kind}"
                timings[f"covers_{name}_{kind}_s"] = best(
                    table,
                    f"CREATE TABLE {table} AS SELECT p.id, ST_Covers(a.{col}, p.{col}) AS inside FROM pts p, area_{name} a;",
                    table,
                )
                out = pg.dir / f"{table}.csv"
                pg.psql(f"\\copy (SELECT id, inside FROM {table} ORDER BY id) TO '{out}' CSV")
                membership[(name, kind)] = {int(r[0]): r[1] == "t" for r in csv.reader(out.open())}
        return timings, distances, membership, version
    finally:
        pg.stop()


# ------------------------------------------------------------------ (d) GeographicLib reference

ARC_TOLERANCE_M = 1e-4


def distance_to_edge(a, b, p):
    inv = GEOD.Inverse(a[1], a[0], b[1], b[0])
    line = GEOD.Line(a[1], a[0], inv["azi1"])

    def at(s):
        q = line.Position(s)
        return GEOD.Inverse(p[1], p[0], q["lat2"], q["lon2"])["s12"]

    phi = (math.sqrt(5) - 1) / 2
    lo, hi = 0.0, inv["s12"]
    x1, x2 = hi - phi * (hi - lo), lo + phi * (hi - lo)
    f1, f2 = at(x1), at(x2)
    while hi - lo > ARC_TOLERANCE_M:
        if f1 < f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - phi * (hi - lo)
            f1 = at(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + phi * (hi - lo)
            f2 = at(x2)
    ends = min(GEOD.Inverse(p[1], p[0], a[1], a[0])["s12"], GEOD.Inverse(p[1], p[0], b[1], b[0])["s12"])
    return min(f1, f2, ends)


def reference_distance(lines, p):
    """Edges whose start is farther than the best so far plus their length cannot be nearer
    (triangle inequality), so they are skipped; nothing is approximated."""
    edges = []
    for l in lines:
        for a, b in zip(l, l[1:]):
            to_a = GEOD.Inverse(p[1], p[0], a[1], a[0])["s12"]
            length = GEOD.Inverse(a[1], a[0], b[1], b[0])["s12"]
            edges.append((to_a - length, a, b))
    edges.sort(key=lambda e: e[0])
    best = math.inf
    for bound, a, b in edges:
        if bound > best:
            break
        best = min(best, distance_to_edge(a, b, p))
    return best


# ------------------------------------------------------------------ main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--line", default=str(REPO / "scenarios/donbas-2015/geometry/contact-line.geojson"))
    ap.add_argument(
        "--area",
        action="append",
        help="NAME=PATH (repeatable); default: the donbas-2015 areas ru and ua",
    )
    ap.add_argument("-n", type=int, default=200_000, help="points")
    ap.add_argument("--reference-n", type=int, default=1_000, help="points checked by brute force")
    ap.add_argument("--seed", type=int, default=2015)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (best kept)")
    ap.add_argument("--port", type=int, default=54329)
    ap.add_argument("--no-postgis", action="store_true")
    ap.add_argument("--no-build", action="store_true", help="use the already built distances example")
    ap.add_argument("--json", help="also write the summary here")
    args = ap.parse_args()
    areas_arg = args.area or [
        f"ru={REPO / 'scenarios/donbas-2015/geometry/area-ru.geojson'}",
        f"ua={REPO / 'scenarios/donbas-2015/geometry/area-ua.geojson'}",
    ]
    areas = [(a.split("=", 1)[0], Path(a.split("=", 1)[1])) for a in areas_arg]

    lines = read_lines(args.line)
    area_geojson = [(name, read_area(path)) for name, path in areas]
    vertices = sum(len(l) for l in lines)
    print(f"line {args.line}: {len(lines)} polylines, {vertices} vertices; {args.n} points", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="truce-compare-"))
    os.chmod(workdir, 0o755)
    try:
        t = time.perf_counter()
        points = make_points(lines, args.n, args.seed)
        points_csv = workdir / "points.csv"
        with points_csv.open("w") as f:
            f.write("id,lon,lat\n")
            for i, (x, y) in enumerate(points):
                f.write(f"{i},{x!r},{y!r}\n")
        os.chmod(points_csv, 0o644)
        print(f"points generated in {time.perf_counter() - t:.1f} s", flush=True)

        truce_timing, truce_rows = run_truce(workdir, Path(args.line), areas, points_csv, args.repeat, not args.no_build)
        truce_d = [float(r["distance_m"]) for r in truce_rows]
        summary = {"points": args.n, "line_vertices": vertices, "truce": truce_timing}
        print(f"truce-geo: {json.dumps(truce_timing)}", flush=True)

        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        summary["shapely"] = {}
        for name, geojson in area_geojson:
            secs, inside, version = run_shapely(geojson, xs, ys, args.repeat)
            ours = [r[name] == "1" for r in truce_rows]
            summary["shapely"][name] = {
                "contains_s": secs,
                "disagreements": int(sum(1 for a, b in zip(ours, inside) if a != bool(b))),
                "version": version,
            }
        print(f"shapely: {json.dumps(summary['shapely'])}", flush=True)

        pg_d = None
        if not args.no_postgis:
            pg_t, pg_d, pg_m, version = run_postgis(workdir, args.port, lines, area_geojson, points_csv, args.repeat)
            summary["postgis"] = {"version": version, **pg_t}
            diffs = [abs(truce_d[i] - pg_d[i]) for i in range(args.n)]
            summary["postgis"]["max_abs_diff_vs_truce_m"] = max(diffs)
            for (name, kind), m in pg_m.items():
                ours = [r[name] == "1" for r in truce_rows]
                summary["postgis"][f"covers_{name}_{kind}_disagreements"] = sum(
                    1 for i in range(args.n) if ours[i] != m[i]
                )
            print(f"postgis: {json.dumps(summary['postgis'])}", flush=True)

        t = time.perf_counter()
        subset = range(0, args.n, max(1, args.n // args.reference_n))
        ref = {i: reference_distance(lines, points[i]) for i in subset}
        summary["reference"] = {
            "points": len(ref),
            "seconds": time.perf_counter() - t,
            "max_abs_err_truce_m": max(abs(truce_d[i] - d) for i, d in ref.items()),
        }
        if pg_d is not None:
            summary["reference"]["max_abs_err_postgis_m"] = max(abs(pg_d[i] - d) for i, d in ref.items())
            # Whose error are the largest disagreements? Check the 10 worst against the reference.
            worst = sorted(range(args.n), key=lambda i: -abs(truce_d[i] - pg_d[i]))[:10]
            summary["reference"]["worst_disagreements"] = [
                {"id": i, "truce_m": truce_d[i], "postgis_m": pg_d[i], "reference_m": reference_distance(lines, points[i])}
                for i in worst
            ]
        buckets = [(0, 1e3), (1e3, 1e4), (1e4, 1e5), (1e5, 2e5), (2e5, 3e5 + 1)]
        summary["reference"]["by_range"] = {
            f"{lo / 1e3:g}-{hi / 1e3:g} km": max(
                [abs(truce_d[i] - d) for i, d in ref.items() if lo <= d < hi], default=None
            )
            for lo, hi in buckets
        }
        print(f"reference: {json.dumps(summary['reference'])}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    n = args.n

    def rate(seconds):
        return n / seconds if seconds else float("nan")

    print("\n## Summary\n")
    print("| measure | truce-geo (1 core) | other | ratio |")
    print("|---|---|---|---|")
    ours_dist = rate(truce_timing["distance_s"])
    if "postgis" in summary:
        pg = summary["postgis"]
        pg_rate = rate(pg["distance_s"])
        pg_net = rate(pg["distance_s"] - pg["scan_s"])
        print(f"| distance to line, points/s | {ours_dist:,.0f} | PostGIS geography ST_Distance {pg_rate:,.0f} "
              f"({pg_net:,.0f} without the bare scan) | {ours_dist / pg_rate:.1f}× ({ours_dist / pg_net:.1f}×) |")
    for name, _ in areas:
        ours = rate(truce_timing["areas"][name]["contains_s"])
        sh = summary["shapely"][name]
        print(f"| contains {name}, points/s | {ours:,.0f} | shapely {sh['version']} prepared contains_xy "
              f"{rate(sh['contains_s']):,.0f} | {ours * sh['contains_s'] / n:.1f}× |")
        if "postgis" in summary:
            pg = summary["postgis"]
            for kind in ("geography", "geometry"):
                r = rate(pg[f"covers_{name}_{kind}_s"])
                print(f"| covers {name}, points/s | {ours:,.0f} | PostGIS {kind} ST_Covers {r:,.0f} | {ours / r:.1f}× |")
    ref = summary["reference"]
    print(f"\nlargest |truce-geo − GeographicLib brute force| on {ref['points']} points: "
          f"{ref['max_abs_err_truce_m']:.2e} m; by range: {json.dumps(ref['by_range'])}")
    for w in ref.get("worst_disagreements", [])[:5]:
        print(f"  point {w['id']}: truce-geo {w['truce_m']:.3f} m, PostGIS {w['postgis_m']:.3f} m, "
              f"reference {w['reference_m']:.3f} m")
    if "postgis" in summary:
        print(f"largest |PostGIS − GeographicLib brute force|: {ref['max_abs_err_postgis_m']:.3f} m; "
              f"largest |truce-geo − PostGIS| over all points: {summary['postgis']['max_abs_diff_vs_truce_m']:.3f} m")
        for name, _ in areas:
            print(f"membership disagreements for {name}: shapely {summary['shapely'][name]['disagreements']}, "
                  f"PostGIS geometry {summary['postgis'][f'covers_{name}_geometry_disagreements']}, "
                  f"PostGIS geography {summary['postgis'][f'covers_{name}_geography_disagreements']}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    sys.exit(main())
