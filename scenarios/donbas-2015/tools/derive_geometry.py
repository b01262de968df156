#!/usr/bin/env python3
"""Derive the committed geometry of the `donbas-2015` scenario from real public data.

Usage (from the repository root):

    pip install shapely==2.2.0 pyproj==3.7.2
    python3 scenarios/donbas-2015/tools/derive_geometry.py /work/shared/data

The single argument is the shared data directory described by its README.md
(frontline/, boundaries/, gazetteer/, conflict_events/).  Outputs are written to
`scenarios/donbas-2015/geometry/` next to this script (or to `--out DIR`).
Re-running on the same inputs produces byte-identical files.

Pinned dependencies (see ../DATA.md):
    shapely==2.2.0   (planar geometry: difference, validity, distances)
    pyproj==3.7.2    (WGS84 geodesic lengths/areas, metric projections)

Inputs (never copied into the repository, only read):
    frontline/ne_10m_disputed_donbass_crimea.geojson  Natural Earth 1:10m "Donbass" + "Crimea"
    boundaries/ne_50m_admin0_ukraine.geojson          Natural Earth 1:50m Ukraine outline
    gazetteer/geonames_postal_UA.txt                  GeoNames postal gazetteer (settlements)
    conflict_events/ucdp_ged_ukraine_2014_2023.csv    UCDP GED (diagnostics only: coordinates of
                                                      front-line towns missing from the gazetteer)

Outputs (RFC 7946 FeatureCollections, WGS84 lon/lat, 6 decimals, CCW exterior rings):
    contact-line.geojson                 LineString, north -> south, area-ru on its left (east)
    area-ru.geojson                      MultiPolygon "RU" (Natural Earth Donbass polygon, unsimplified)
    area-ua.geojson                      MultiPolygon "UA" (NE 50m Ukraine - Donbass - Crimea - slivers)
    zone-stanytsia-luhanska.geojson      \
    zone-zolote.geojson                   > 4 km x 4 km disengagement areas on the derived line
    zone-petrivske.geojson               /

Method and caveats are documented in ../DATA.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, shape
from shapely.geometry.polygon import orient

# --------------------------------------------------------------------------- parameters
# A ring vertex of the Donbass polygon closer than this to the Ukraine outline (NE 50m:
# state border + coast) is a "border/coast" vertex.  The NE 50m and 10m border lines differ
# by up to ~3 km (see diagnostics), so 2.5 km separates them cleanly from the front.
BORDER_KM = 2.5
# Polygon parts of area-ua smaller than this are slivers between the 50m and 10m outlines.
SLIVER_KM2 = 20.0
# Disengagement area: square of this side (km), two sides parallel to the local contact line,
# centred on the point of the derived contact line nearest to the settlement.
ZONE_SIDE_KM = 4.0
# Metric CRS for distances: UTM zone 37N covers 36-42 E; over Donbas (37.2-40.2 E) its scale
# error is < 0.05 %, an honest approximation of geodesic distance at km scale.
UTM = "EPSG:32637"

GEOD = Geod(ellps="WGS84")
TO_UTM = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
FROM_UTM = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)

# Settlements of the three disengagement areas of the 2016 Framework Decision.  Each entry:
# (output id, English name, gazetteer place_name, admin1 name, postal code, note)
ZONES = [
    ("stanytsia-luhanska", "Stanytsia Luhanska disengagement area",
     "Станично-Луганське", "Luhanska", "93601",
     "'Станиця Луганська' is not in the gazetteer; 'Станично-Луганське' (postal 93601, "
     "Stanychno-Luhanskyi raion) is the same settlement under its former name"),
    ("zolote", "Zolote disengagement area",
     "Золоте", "Luhanska", "93295",
     "Zolote, Popasnianskyi raion (postal 93295-93297)"),
    ("petrivske", "Petrivske disengagement area",
     "Богданівка", "Donetska", "85718",
     "Petrivske (Starobesheve raion, DPR-held, 41 km south of Donetsk) is not in the "
     "gazetteer (the only Donetsk-oblast 'Петрівське' entries are accuracy-1 estimates far "
     "from the front); the area is placed at Bohdanivka (Volnovaskyi raion, postal 85718), "
     "the government-held village facing Petrivske across the line (the OSCE called it the "
     "Petrivske/Bohdanivka disengagement area)"),
]

# Front-line settlements for the accuracy table: (English name, side that held it 2015-2021,
# GeoNames gazetteer (place_name, admin1, postal) or None, UCDP GED where_coordinates or None).
# The gazetteer coordinate is used where the entry exists with accuracy >= 3; the gazetteer
# lacks almost every settlement of the separatist-held area (their postal codes are absent),
# so for those the UCDP GED coordinate of the place is used (itself GeoNames-based).
TOWNS = [
    ("Stanytsia Luhanska", "UA", ("Станично-Луганське", "Luhanska", "93601"), "Stanytsia Luhanska town"),
    ("Shchastia", "UA", ("Щастя", "Luhanska", "91480"), "Shchastya town"),
    ("Trokhizbenka", "UA", ("Трьохізбенка", "Luhanska", "93710"), "Trekhizbenka village"),
    ("Novotoshkivske", "UA", ("Новотошківське", "Luhanska", "93891"), "Novotoshkivske village"),
    ("Zolote", "UA", ("Золоте", "Luhanska", "93295"), "Zolote town"),
    ("Popasna", "UA", ("Попасна", "Luhanska", "93301"), "Popasna town"),
    ("Troitske (Popasna raion)", "UA", None, "Troitske village"),
    ("Pervomaisk", "RU", ("Первомайськ", "Luhanska", "92817"), None),
    ("Frunze (Slovianoserbsk raion)", "RU", None, "Frunze town"),
    ("Svitlodarsk", "UA", None, "Svitlodarsk town"),
    ("Luhanske", "UA", None, "Luhanske village"),
    ("Debaltseve (DPR from 18 Feb 2015)", "RU", None, "Debaltseve town"),
    ("Vuhlehirsk", "RU", None, "Vuhlehirsk village"),
    ("Maiorsk", "UA", None, "Maiorska village"),
    ("Shumy", "UA", None, "Shumy village"),
    ("Horlivka", "RU", None, "Horlivka town"),
    ("Avdiivka", "UA", ("Авдіївка", "Donetska", "86060"), "Avdiivka town"),
    ("Opytne", "UA", None, "Opytne village"),
    ("Pisky (Yasynuvata raion)", "UA", None, "Pisky village"),
    ("Spartak", "RU", None, "Spartak village"),
    ("Yasynuvata", "RU", None, "Yasynuvata town"),
    ("Donetsk (city centre)", "RU", None, "Donetsk town"),
    ("Krasnohorivka", "UA", ("Красногорівка", "Donetska", "85630"), "Krasnohorivka town"),
    ("Maryinka", "UA", ("Мар'їнка", "Donetska", "85600"), "Marinka town"),
    ("Staromykhailivka", "RU", None, "Staromykhailivka town"),
    ("Novomykhailivka", "UA", None, "Novomykhailivka village"),
    ("Novotroitske", "UA", None, "Novotroitske town"),
    ("Dokuchaievsk", "RU", None, "Dokuchaevsk town"),
    ("Bohdanivka (Volnovakha raion)", "UA", ("Богданівка", "Donetska", "85718"), "Bohdanivka village"),
    ("Starohnativka", "UA", ("Старогнатівка", "Donetska", "87110"), "Starognativka village"),
    ("Hranitne (Volnovakha raion)", "UA", ("Гранітне", "Donetska", "87123"), "Hranitne town"),
    ("Pavlopil", "UA", None, "Pavlopil village"),
    ("Hnutove", "UA", ("Гнутове", "Donetska", "87584"), "Hnutove village"),
    ("Talakivka", "UA", ("Талаківка", "Donetska", "87594"), "Talakivka village"),
    ("Kominternove", "RU", None, "Kominternove village"),
    ("Sakhanka", "RU", None, "Sakhanka village"),
    ("Shyrokyne (contested; UA from Jul 2015)", "contested", None, "Shyrokyne village"),
]


# --------------------------------------------------------------------------- helpers
def load_geojson(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def to_utm(geom):
    return shapely.transform(geom, lambda a: np.column_stack(TO_UTM.transform(a[:, 0], a[:, 1])))


def from_utm(geom):
    return shapely.transform(geom, lambda a: np.column_stack(FROM_UTM.transform(a[:, 0], a[:, 1])))


def km_to(geom_utm, lon, lat):
    x, y = TO_UTM.transform(lon, lat)
    return geom_utm.distance(Point(x, y)) / 1000.0


def geodesic_km(line):
    return GEOD.geometry_length(line) / 1000.0


def geodesic_km2(geom):
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def r6(v):
    r = round(float(v), 6)  # Python's round() is deterministic; -0.0 normalised below
    return 0.0 if r == 0 else r


def ring_coords(ring):
    pts = [[r6(x), r6(y)] for x, y in ring.coords]
    out = [pts[0]]
    for p in pts[1:]:
        if p != out[-1]:
            out.append(p)
    if out[0] != out[-1]:
        out.append(out[0])
    return out


def polygon_coords(poly):
    poly = orient(poly, sign=1.0)  # exterior CCW, holes CW (RFC 7946 right-hand rule)
    return [ring_coords(poly.exterior)] + [ring_coords(r) for r in poly.interiors]


def multipolygon_geojson(geom):
    polys = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    # deterministic order: largest first (by planar area, ties by bounds)
    polys.sort(key=lambda p: (-round(p.area, 9), p.bounds))
    return {"type": "MultiPolygon", "coordinates": [polygon_coords(p) for p in polys]}


def check_rounded(geom_json, label):
    """Re-read the rounded geometry and make sure it is still valid / simple."""
    g = shape(geom_json)
    if g.geom_type == "LineString":
        assert g.is_simple, f"{label}: rounded line self-intersects"
    else:
        assert g.is_valid, f"{label}: rounded geometry invalid: {shapely.is_valid_reason(g)}"
        for p in g.geoms:
            assert p.exterior.is_ccw, f"{label}: exterior ring not CCW"
    return g


def write_fc(path, features):
    fc = {"type": "FeatureCollection", "features": features}
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    # one feature per line keeps diffs readable without bloating the file
    text = text.replace('{"type":"Feature",', '\n{"type":"Feature",')
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text + "\n")
    print(f"  wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


def feature(props, geometry):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def longest_circular_run(flags):
    """Longest run of consecutive True in a circular list -> (start, length)."""
    n = len(flags)
    if all(flags):
        return 0, n
    # start scanning right after a False so runs do not wrap unexpectedly
    first_false = flags.index(False)
    best = (0, 0)
    i = 0
    while i < n:
        j = (first_false + 1 + i) % n
        if flags[j]:
            length = 0
            while length < n and flags[(j + length) % n]:
                length += 1
            if length > best[1]:
                best = (j, length)
            i += length
        else:
            i += 1
    return best


# --------------------------------------------------------------------------- gazetteer
def read_gazetteer(path):
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for r in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(r) < 12:
                continue
            rows.append({"postal": r[1], "name": r[2], "admin1": r[3], "admin2": r[5],
                         "lat": float(r[9]), "lon": float(r[10]),
                         "acc": int(r[11]) if r[11] else 0})
    return rows


def gaz_lookup(rows, name, admin1, postal=None):
    hits = [r for r in rows if (r["name"] == name or r["name"].startswith(name + " ("))
            and r["admin1"] == admin1 and (postal is None or r["postal"] == postal)]
    hits.sort(key=lambda r: (-r["acc"], r["postal"]))
    return hits[0] if hits else None


def read_ucdp_places(path):
    places = {}
    with open(path, encoding="cp1252", errors="replace", newline="") as f:
        for r in csv.DictReader(f):
            key = r["where_coordinates"]
            if key and key not in places:  # first occurrence wins (deterministic file order)
                places[key] = (float(r["longitude"]), float(r["latitude"]))
    return places


# --------------------------------------------------------------------------- main steps
def derive_contact_line(donbass, ukraine):
    ring = orient(donbass, sign=1.0).exterior  # CCW: interior (ORDLO) on the left
    verts = list(ring.coords)[:-1]
    outline_utm = to_utm(ukraine.boundary)
    dists = [km_to(outline_utm, x, y) for x, y in verts]
    front = [d > BORDER_KM for d in dists]
    start, length = longest_circular_run(front)
    n = len(verts)
    idx = [(start - 1 + k) % n for k in range(length + 2)]  # extend one vertex each end
    coords = [verts[i] for i in idx]
    line = LineString(coords)
    # CCW traversal runs the western edge north -> south; enforce it explicitly.
    if line.coords[0][1] < line.coords[-1][1]:
        line = LineString(list(line.coords)[::-1])
    border_runs = sum(1 for i in range(n) if not front[i] and front[(i + 1) % n])
    print(f"contact line: ring has {n} vertices, {sum(front)} farther than {BORDER_KM} km from "
          f"the NE 50m outline, in {border_runs} run(s); longest run = {length} vertices")
    print(f"  end-vertex distance to outline: {dists[idx[0]]:.2f} km and {dists[idx[-1]]:.2f} km; "
          f"max border-vertex distance: {max(d for d, f in zip(dists, front) if not f):.2f} km; "
          f"max distance of a short non-front run: "
          f"{max((d for k, (d, f) in enumerate(zip(dists, front)) if f and k not in idx), default=0):.2f} km")
    return line


def zone_square(line_utm, lon, lat, side_km):
    """Square of side_km centred on the point of the line nearest (lon, lat), aligned with
    the local direction of the line (chord over +-side/2 along the line)."""
    x, y = TO_UTM.transform(lon, lat)
    s = line_utm.project(Point(x, y))
    c = line_utm.interpolate(s)
    half = side_km * 500.0
    a = line_utm.interpolate(max(0.0, s - half))
    b = line_utm.interpolate(min(line_utm.length, s + half))
    dx, dy = b.x - a.x, b.y - a.y
    norm = math.hypot(dx, dy)
    ux, uy = dx / norm, dy / norm          # along the line
    vx, vy = -uy, ux                       # across the line
    corners = []
    for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        corners.append((c.x + su * half * ux + sv * half * vx, c.y + su * half * uy + sv * half * vy))
    # densify each side to 4 segments so the lon/lat polygon follows the metric square closely
    pts = []
    for k in range(4):
        (x0, y0), (x1, y1) = corners[k], corners[(k + 1) % 4]
        for t in range(4):
            pts.append((x0 + (x1 - x0) * t / 4, y0 + (y1 - y0) * t / 4))
    sq = Polygon(pts)
    cx, cy = FROM_UTM.transform(c.x, c.y)
    return from_utm(sq), (cx, cy), Point(x, y).distance(c) / 1000.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data_dir", help="shared data directory (contains README.md, frontline/, ...)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "geometry"))
    args = ap.parse_args(argv)
    data = args.data_dir
    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    print(f"shapely {shapely.__version__}, data {data}, out {out}")

    disputed = load_geojson(os.path.join(data, "frontline", "ne_10m_disputed_donbass_crimea.geojson"))
    by_name = {f["properties"]["BRK_NAME"]: shape(f["geometry"]) for f in disputed["features"]}
    donbass, crimea = by_name["Donbass"], by_name["Crimea"]
    ua_fc = load_geojson(os.path.join(data, "boundaries", "ne_50m_admin0_ukraine.geojson"))
    ukraine = shape(ua_fc["features"][0]["geometry"])
    for label, g in (("Donbass", donbass), ("Crimea", crimea), ("Ukraine 50m", ukraine)):
        assert g.is_valid, f"input {label} invalid"
    print(f"inputs: Donbass {len(donbass.exterior.coords) - 1} vertices, Crimea "
          f"{len(crimea.exterior.coords) - 1}, Ukraine 50m {sum(len(p.exterior.coords) - 1 for p in ukraine.geoms)}")
    print(f"  NB Ukraine 50m overlaps the NE 10m Crimea feature by only "
          f"{geodesic_km2(ukraine.intersection(crimea)):.1f} km2 of {geodesic_km2(crimea):.0f} km2 "
          f"(this 50m outline already excludes Crimea)")

    # 1. contact line -----------------------------------------------------------------
    line = derive_contact_line(donbass, ukraine)
    line_json = {"type": "LineString", "coordinates": [[r6(x), r6(y)] for x, y in line.coords]}
    line = check_rounded(line_json, "contact-line")
    line_utm = to_utm(line)
    seg_km = [GEOD.inv(*a, *b)[2] / 1000.0 for a, b in zip(line.coords[:-1], line.coords[1:])]
    length_km = geodesic_km(line)
    (nlon, nlat), (slon, slat) = line.coords[0], line.coords[-1]
    print(f"  {len(line.coords)} vertices, geodesic length {length_km:.1f} km, vertex spacing "
          f"mean {sum(seg_km) / len(seg_km):.2f} km, median {sorted(seg_km)[len(seg_km) // 2]:.2f} km, "
          f"max {max(seg_km):.2f} km")
    outline_utm = to_utm(ukraine.boundary)
    print(f"  north end {nlon:.4f} E {nlat:.4f} N ({km_to(outline_utm, nlon, nlat):.2f} km from the NE 50m "
          f"outline), south end {slon:.4f} E {slat:.4f} N ({km_to(outline_utm, slon, slat):.2f} km)")
    write_fc(os.path.join(out, "contact-line.geojson"), [feature({
        "id": "contact-line",
        "name": "Line of contact (Minsk II, 2015-02-15)",
        "source": "Natural Earth 1:10m Admin-0 breakaway and disputed areas, 'Donbass' boundary "
                  "minus the Ukraine-Russia border and Azov coast",
        "direction": "north-to-south; area RU on the left (east)",
        "approximate": True,
    }, line_json)])

    # 2. area-ru -------------------------------------------------------------------------
    ru_json = multipolygon_geojson(donbass)
    ru = check_rounded(ru_json, "area-ru")
    print(f"area-ru: {sum(len(p.exterior.coords) for p in ru.geoms)} positions, "
          f"{geodesic_km2(ru):.0f} km2")
    write_fc(os.path.join(out, "area-ru.geojson"), [feature({
        "id": "RU",
        "name": "Areas held by forces the Russian Federation backs (ORDLO)",
        "source": "Natural Earth 1:10m 'Donbass' (BRK_A3 B90), unsimplified",
    }, ru_json)])

    # 3. area-ua -------------------------------------------------------------------------
    diff = ukraine.difference(ru).difference(crimea)
    parts = list(diff.geoms) if isinstance(diff, MultiPolygon) else [diff]
    kept, dropped = [], []
    for p in parts:
        (kept if geodesic_km2(p) >= SLIVER_KM2 else dropped).append(p)
    print(f"area-ua: NE50m Ukraine - Donbass - Crimea = {len(parts)} parts; dropped {len(dropped)} "
          f"slivers < {SLIVER_KM2:g} km2 totalling {sum(geodesic_km2(p) for p in dropped):.1f} km2 "
          f"(largest {max((geodesic_km2(p) for p in dropped), default=0):.1f} km2)")
    ua_json = multipolygon_geojson(MultiPolygon(kept))
    ua = check_rounded(ua_json, "area-ua")
    overlap = geodesic_km2(ua.intersection(ru)) if ua.intersects(ru) else 0.0
    print(f"  {len(ua.geoms)} parts ({', '.join(f'{geodesic_km2(p):.0f}' for p in ua.geoms)} km2), "
          f"{sum(len(p.exterior.coords) for p in ua.geoms)} positions, total {geodesic_km2(ua):.0f} km2; "
          f"intersection with area-ru {overlap:.6f} km2")
    assert overlap < 0.01, "area-ua overlaps area-ru"
    write_fc(os.path.join(out, "area-ua.geojson"), [feature({
        "id": "UA",
        "name": "Government-controlled Ukraine (excluding Crimea)",
        "source": "Natural Earth 1:50m Ukraine minus NE 10m 'Donbass' and 'Crimea', "
                  f"parts < {SLIVER_KM2:g} km2 dropped",
    }, ua_json)])

    # 4. disengagement areas -----------------------------------------------------------
    gaz = read_gazetteer(os.path.join(data, "gazetteer", "geonames_postal_UA.txt"))
    print("disengagement areas (square %.0f km x %.0f km on the derived line):" % (ZONE_SIDE_KM, ZONE_SIDE_KM))
    for zid, zname, gname, admin1, postal, note in ZONES:
        g = gaz_lookup(gaz, gname, admin1, postal)
        assert g is not None, f"gazetteer: {gname} ({admin1}, {postal}) not found"
        poly, (clon, clat), settle_km = zone_square(line_utm, g["lon"], g["lat"], ZONE_SIDE_KM)
        zjson = multipolygon_geojson(poly)
        zone = check_rounded(zjson, zid)
        zone_utm = to_utm(zone)
        d_line = zone_utm.distance(line_utm) / 1000.0
        crossing = zone.intersection(line)
        inside_km = geodesic_km(crossing) if not crossing.is_empty else 0.0
        settle_in = zone.contains(Point(g["lon"], g["lat"]))
        print(f"  {zid}: settlement {g['name']} ({g['admin1']}, {g['admin2']}, postal {g['postal']}, "
              f"acc {g['acc']}) at {g['lat']:.4f} N {g['lon']:.4f} E is {settle_km:.2f} km from the line; "
              f"centre {clat:.6f} N {clon:.6f} E; zone-to-line distance {d_line:.3f} km, "
              f"line length inside zone {inside_km:.2f} km, area {geodesic_km2(zone):.1f} km2, "
              f"contains settlement: {settle_in}")
        write_fc(os.path.join(out, f"zone-{zid}.geojson"), [feature({
            "id": zid,
            "name": zname,
            "kind": "disengagement-area",
            "settlement": g["name"],
            "settlement_lat": g["lat"],
            "settlement_lon": g["lon"],
            "settlement_to_line_km": round(settle_km, 2),
            "centre": [r6(clon), r6(clat)],
            "approximate": True,
            "note": f"{ZONE_SIDE_KM:g} km x {ZONE_SIDE_KM:g} km square centred on the derived contact line "
                    f"at the point nearest the settlement; {note}",
        }, zjson)])

    # 5. accuracy table: distance from known front-line settlements to the derived line ----
    ucdp = read_ucdp_places(os.path.join(data, "conflict_events", "ucdp_ged_ukraine_2014_2023.csv"))
    ru_utm = to_utm(ru)
    print("front-line settlements: signed distance to the derived line "
          "(+ = UA side, - = inside area-ru); 'held' = side holding it 2015-2021")
    print("  | settlement | held | coordinate source | lat | lon | km | derived side |")
    stats = []
    for name, held, gkey, ucdp_name in TOWNS:
        src = None
        g = gaz_lookup(gaz, *gkey) if gkey else None
        if g and g["acc"] >= 3:
            lon, lat, src = g["lon"], g["lat"], f"GeoNames postal {g['postal']}"
        elif ucdp_name and ucdp_name in ucdp:
            lon, lat = ucdp[ucdp_name]
            src = f"UCDP GED '{ucdp_name}'"
            if g:
                src += f" (GeoNames {g['postal']} has accuracy {g['acc']}: rejected)"
        if src is None:
            print(f"  | {name} | {held} | not found | | | | |")
            continue
        d = km_to(line_utm, lon, lat)
        side = "RU" if ru_utm.contains(Point(*TO_UTM.transform(lon, lat))) else "UA"
        signed = -d if side == "RU" else d
        flag = "" if held in ("contested", side) else " WRONG SIDE"
        stats.append((d, held == side or held == "contested"))
        print(f"  | {name} | {held} | {src} | {lat:.4f} | {lon:.4f} | {signed:+.1f} | {side}{flag} |")
    ds = sorted(d for d, _ in stats)
    print(f"  {len(stats)} settlements: median |distance| {ds[len(ds) // 2]:.1f} km, "
          f"{sum(d <= 3 for d in ds)} within 3 km, {sum(d <= 6 for d in ds)} within 6 km, "
          f"max {ds[-1]:.1f} km; on the wrong side: {sum(not ok for _, ok in stats)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
