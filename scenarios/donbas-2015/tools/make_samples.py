#!/usr/bin/env python3
"""Writes scenarios/donbas-2015/observations.geojson: hand-designed test cases for `truce assess`.

Each case is placed at an exact geodesic distance from the derived contact line (found by
bisection against an independent brute-force distance: every edge densified to 25 m with
GeographicLib), on a stated side, so that the expected outcome can be checked by hand — see the
`remarks` of each feature, which say what it is meant to show. Re-run after the geometry changes:

    pip install geographiclib==2.1 shapely==2.2.0
    python3 scenarios/donbas-2015/tools/make_samples.py

Prints, per case, the reference distance in metres, for comparison with `truce assess`.
"""
import json
import math
import os
import sys

from geographiclib.geodesic import Geodesic
from shapely.geometry import Point, shape

HERE = os.path.dirname(os.path.abspath(__file__))
SCEN = os.path.dirname(HERE)
G = Geodesic.WGS84


def load(name):
    with open(os.path.join(SCEN, "geometry", name)) as f:
        return json.load(f)


LINE = load("contact-line.geojson")["features"][0]["geometry"]["coordinates"]
AREAS = {
    "UA": shape(load("area-ua.geojson")["features"][0]["geometry"]),
    "RU": shape(load("area-ru.geojson")["features"][0]["geometry"]),
}
ZONES = {z: shape(load(f"zone-{z}.geojson")["features"][0]["geometry"]) for z in ("zolote", "stanytsia-luhanska", "petrivske")}

# Densified line for the reference distance (25 m steps along each geodesic edge).
DENSE = []
for (x0, y0), (x1, y1) in zip(LINE, LINE[1:]):
    inv = G.Inverse(y0, x0, y1, x1)
    n = max(1, int(inv["s12"] / 25.0))
    gl = G.InverseLine(y0, x0, y1, x1)
    for k in range(n):
        p = gl.Position(inv["s12"] * k / n)
        DENSE.append((p["lon2"], p["lat2"]))
DENSE.append(tuple(LINE[-1]))


def ref_distance(lon, lat):
    # Coarse pass on a subsample, then exact on the neighbourhood of the best.
    best = min(range(0, len(DENSE), 40), key=lambda i: (DENSE[i][0] - lon) ** 2 * math.cos(math.radians(lat)) ** 2 + (DENSE[i][1] - lat) ** 2)
    cands = range(max(0, best - 400), min(len(DENSE), best + 400))
    d = min(G.Inverse(lat, lon, DENSE[i][1], DENSE[i][0])["s12"] for i in cands)
    # Guard against the coarse pass picking the wrong stretch: full scan when far.
    if d > 20_000:
        d = min(d, min(G.Inverse(lat, lon, y, x)["s12"] for x, y in DENSE[::4]))
    return d


def anchor(frac):
    i = int(frac * (len(LINE) - 1))
    i = min(max(i, 1), len(LINE) - 2)
    a, b = LINE[i - 1], LINE[i + 1]
    az = G.Inverse(a[1], a[0], b[1], b[0])["azi1"]
    return LINE[i], az


def at_distance(frac, side, target_m):
    """A point on `side` ('RU' = left of the north-to-south line, 'UA' = right) at target_m.

    Heads away from the line perpendicular to it at the anchor; where the line bends so that
    the perpendicular leaves the side's area, tries directions fanned out from it."""
    (lon, lat), az = anchor(frac)
    for fan in (0, -25, 25, -50, 50, -70, 70):
        azp = az - 90 + fan if side == "RU" else az + 90 + fan
        lo, hi = 0.0, target_m * 3 + 1000
        for _ in range(40):
            mid = (lo + hi) / 2
            p = G.Direct(lat, lon, azp, mid)
            if ref_distance(p["lon2"], p["lat2"]) < target_m:
                lo = mid
            else:
                hi = mid
        p = G.Direct(lat, lon, azp, (lo + hi) / 2)
        pt = (round(p["lon2"], 7), round(p["lat2"], 7))
        inside = [k for k, a in AREAS.items() if a.covers(Point(pt))]
        if inside == [side] and abs(ref_distance(*pt) - target_m) < 0.5:
            return list(pt)
    raise SystemExit(f"no point {target_m} m from the line on the {side} side near fraction {frac}")


def offset(p, az, d):
    q = G.Direct(p[1], p[0], az, d)
    return [round(q["lon2"], 7), round(q["lat2"], 7)]


def zone_centre(z):
    c = ZONES[z].centroid
    return [round(c.x, 7), round(c.y, 7)]


SRC = {
    "uav": {"id": "uav-7", "kind": "drone", "reliability": "B", "credibility": 2},
    "cam": {"id": "cam-shchastia-2", "kind": "camera", "reliability": "A", "credibility": 2},
    "team": {"id": "team-3", "kind": "ground_team", "reliability": "A", "credibility": 1},
    "sat": {"id": "viirs-snpp", "kind": "satellite", "reliability": "B", "credibility": 3},
    "acoustic": {"id": "acoustic-array-1", "kind": "acoustic", "reliability": "C", "credibility": 3},
    "party_ua": {"id": "jccc-ua", "kind": "party", "reliability": "F", "credibility": 6, "party": "UA"},
}

BEFORE = "2015-02-14T23:00:00+02:00"  # one hour before the ceasefire
DAY5 = "2015-02-20T10:00:00+02:00"  # after the ceasefire, before the withdrawal deadline
DAY20 = "2015-03-07T10:00:00+02:00"  # after the withdrawal deadline

cases = []


def case(id, kind, geom, when, src, remarks, **props):
    p = {"kind": kind, "observed_at": when, "source": SRC[src], "remarks": remarks}
    p.update(props)
    cases.append({"type": "Feature", "id": id, "geometry": geom, "properties": p})


def point(c):
    return {"type": "Point", "coordinates": c}


# --- no fire -------------------------------------------------------------------------------
case("fire-01", "impact", point(at_distance(0.5, "UA", 5000)), BEFORE, "team", "impact 5 km inside UA an hour BEFORE the ceasefire: assessed, no breach")
case("fire-02", "impact", point(at_distance(0.5, "UA", 5000)), DAY5, "team", "impact 5 km inside UA after the ceasefire: no-fire, nobody attributed (an impact alone never attributes)", error_radius_m=50)
case("fire-03", "explosion", point(at_distance(0.3, "RU", 3000)), DAY5, "cam", "explosion 3 km inside RU: no-fire, nobody attributed")
case("fire-04", "firing", point(at_distance(0.3, "RU", 8000)), DAY5, "uav", "firing position seen 8 km inside RU: no-fire, RU")
case("fire-05", "firing", point(at_distance(0.7, "UA", 12000)), DAY5, "uav", "firing position seen 12 km inside UA: no-fire, UA")
case("fire-06", "firing", point(at_distance(0.7, "UA", 6000)), DAY5, "acoustic", "firing heard on a bearing from a UA-side array: no-fire, nobody attributed (one bearing does not locate)", bearing={"azimuth_deg": 95.0, "error_deg": 3.0, "max_range_m": 20000})
case("fire-07", "firing", point(at_distance(0.4, "RU", 10000)), DAY20, "uav", "122 mm+ artillery firing 10 km inside RU after the withdrawal deadline: no-fire and heavy-weapons, RU", weapon={"class": "artillery_100mm_plus", "count": 2})
case("fire-08", "explosion", point([39.95, 48.95]), DAY5, "sat", "explosion inside Russia, outside both areas: no-fire, party area null")

# --- heavy-weapon withdrawal ---------------------------------------------------------------
case("hw-01", "weapon_present", point(at_distance(0.6, "UA", 24500)), DAY20, "uav", "artillery at 24.5 km on the UA side after the deadline (limit 25 km): breach, certain", weapon={"class": "artillery_100mm_plus", "count": 3})
case("hw-02", "weapon_present", point(at_distance(0.6, "UA", 25500)), DAY20, "uav", "artillery at 25.5 km: outside the 25 km limit, no breach", weapon={"class": "artillery_100mm_plus", "count": 3})
case("hw-03", "weapon_present", point(at_distance(0.6, "UA", 24800)), DAY20, "uav", "artillery at 24.8 km ±500 m: breach, not certain", error_radius_m=500, weapon={"class": "artillery_100mm_plus", "count": 1})
case("hw-04", "weapon_present", point(at_distance(0.35, "RU", 34000)), DAY20, "uav", "MLRS at 34 km inside RU (limit 35 km): breach, RU", weapon={"class": "mlrs", "count": 4})
case("hw-05", "weapon_present", point(at_distance(0.35, "RU", 36000)), DAY20, "uav", "MLRS at 36 km inside RU: no breach", weapon={"class": "mlrs", "count": 4})
case("hw-06", "weapon_present", point(at_distance(0.5, "UA", 69000)), DAY20, "sat", "Tochka at 69 km on the UA side (limit 70 km): breach, UA", weapon={"class": "heavy_mlrs_tochka", "count": 1})
case("hw-07", "weapon_present", point(at_distance(0.5, "UA", 71000)), DAY20, "sat", "Tochka at 71 km: no breach", weapon={"class": "heavy_mlrs_tochka", "count": 1})
case("hw-08", "weapon_present", point(at_distance(0.35, "RU", 10000)), DAY5, "uav", "MLRS 10 km inside RU BEFORE the withdrawal deadline: no breach yet", weapon={"class": "mlrs", "count": 6})
case("hw-09", "weapon_present", point(at_distance(0.8, "UA", 5000)), DAY20, "team", "MLRS with RU markings 5 km inside UA: breach attributed to RU by the identified affiliation", weapon={"class": "mlrs", "count": 1}, affiliation="RU")
case("hw-10", "weapon_present", point(at_distance(0.8, "UA", 3000)), DAY20, "team", "tanks are not a declared class: no withdrawal breach", weapon={"class": "tank", "count": 5})
case("hw-11", "weapon_present", point(at_distance(0.2, "RU", 60000)), DAY20, "uav", "artillery 60 km inside RU, far behind its 25 km line: no breach", weapon={"class": "artillery_100mm_plus", "count": 8})

# --- disengagement areas -------------------------------------------------------------------
case("dis-01", "weapon_present", point(zone_centre("zolote")), DAY20, "uav", "artillery at the centre of the Zolote disengagement area: disengagement and heavy-weapons", weapon={"class": "artillery_100mm_plus", "count": 1})
case("dis-02", "construction", point(zone_centre("stanytsia-luhanska")), DAY5, "team", "new trench works in the Stanytsia Luhanska area: disengagement")
case("dis-03", "construction", point(zone_centre("petrivske")), DAY5, "uav", "new fortification in the Petrivske area: disengagement")
case("dis-04", "construction", point(offset(zone_centre("zolote"), 270, 10000)), DAY5, "uav", "works 10 km west of the Zolote area: no breach")
case("dis-05", "impact", point(zone_centre("zolote")), DAY5, "team", "impact inside the Zolote area: no-fire only (an impact is not presence; nobody attributed)")
zc = zone_centre("zolote")
case("dis-06", "construction", {"type": "Polygon", "coordinates": [[offset(zc, 45, 400), offset(zc, 135, 400), offset(zc, 225, 400), offset(zc, 315, 400), offset(zc, 45, 400)]]}, DAY5, "uav", "works area drawn as a polygon around the Zolote centre: disengagement (assessed at its centroid)")

# --- crossing, air exclusion, mines --------------------------------------------------------
ua = at_distance(0.45, "UA", 4000)
ru = at_distance(0.45, "RU", 4000)
case("move-01", "movement", {"type": "LineString", "coordinates": [ua, ru]}, DAY5, "uav", "a column moving from UA across the line into RU: no-crossing, UA (started on the UA side)", timestamps=["2015-02-20T08:00:00Z", "2015-02-20T08:20:00Z"])
ua2 = at_distance(0.45, "UA", 2000)
case("move-02", "movement", {"type": "LineString", "coordinates": [ua2, offset(ua2, anchor(0.45)[1], 3000)]}, DAY5, "uav", "a column moving along the line 2 km inside UA, not crossing: no breach")
case("move-03", "movement", {"type": "LineString", "coordinates": [ua, ru]}, DAY5, "cam", "a crossing by a vehicle identified as RU: no-crossing, RU", affiliation="RU")
ru5 = at_distance(0.3, "RU", 5000)
case("air-01", "overflight", {"type": "LineString", "coordinates": [ru5, at_distance(0.3, "UA", 6000)]}, DAY5, "cam", "a drone flying from RU over the security zone: air-exclusion, RU (started on the RU side)")
case("air-02", "overflight", {"type": "LineString", "coordinates": [at_distance(0.6, "UA", 8000), at_distance(0.62, "UA", 9000)]}, DAY5, "uav", "the monitors' own drone over the security zone: exempt, no breach", affiliation="monitor")
case("air-03", "overflight", point(at_distance(0.6, "UA", 40000)), DAY5, "cam", "an aircraft 40 km from the line, outside the security zone: no breach")
case("mine-01", "mine_laying", point(at_distance(0.55, "UA", 5000)), DAY5, "team", "mines laid 5 km inside UA, in the security zone: no-new-mines, UA")
case("mine-02", "mine_laying", point(at_distance(0.55, "UA", 20000)), DAY5, "team", "mines laid 20 km inside UA, outside the 15 km security zone: no breach")

# --- thermal anomalies ---------------------------------------------------------------------
case("thermal-01", "thermal_anomaly", point(at_distance(0.5, "RU", 7000)), DAY5, "sat", "VIIRS hotspot 7 km inside RU (security zone): thermal-in-security-zone, nobody attributed", error_radius_m=375)
case("thermal-02", "thermal_anomaly", point(at_distance(0.5, "UA", 100000)), DAY5, "sat", "VIIRS hotspot 100 km inside UA (field fire): no breach", error_radius_m=375)

# --- storage sites, access, other ----------------------------------------------------------
case("site-01", "storage_check", point([35.87, 48.52]), DAY20, "team", "Pavlohrad: 12 MLRS of 12, 3 Tochka of 4, serial UA-T-0133 not found: storage-inventory, UA", storage={"site": "site-ua-pavlohrad", "counts": {"mlrs": 12, "heavy_mlrs_tochka": 3}, "serials_seen": {"heavy_mlrs_tochka": ["UA-T-0117", "UA-T-0121", "UA-T-0140"]}})
case("site-02", "storage_check", point([39.65, 48.08]), DAY20, "team", "Dovzhansk: everything declared present, serials as declared: no breach", storage={"site": "site-ru-dovzhansk", "counts": {"artillery_100mm_plus": 10, "mlrs": 8}, "serials_seen": {"mlrs": ["BM21-4471", "BM21-4472", "BM21-4480", "BM21-4493", "BM21-4501", "BM21-4502", "BM21-4517", "BM21-4520"]}})
case("site-03", "storage_check", point([39.37, 48.09]), DAY20, "team", "Rovenky: 17 of 20 artillery pieces: storage-inventory, RU", storage={"site": "site-ru-rovenky", "counts": {"artillery_100mm_plus": 17}})
case("site-04", "storage_check", point([39.65, 48.08]), DAY20, "team", "Dovzhansk: serial BM21-9999 seen that was never declared, BM21-4520 missing: storage-inventory, RU", storage={"site": "site-ru-dovzhansk", "counts": {"artillery_100mm_plus": 10, "mlrs": 8}, "serials_seen": {"mlrs": ["BM21-4471", "BM21-4472", "BM21-4480", "BM21-4493", "BM21-4501", "BM21-4502", "BM21-4517", "BM21-9999"]}})
case("access-01", "access_denied", point(at_distance(0.25, "RU", 2000)), DAY5, "team", "patrol stopped at a checkpoint 2 km inside RU: freedom-of-movement, RU")
case("access-02", "access_denied", point(at_distance(0.75, "UA", 9000)), BEFORE, "team", "patrol stopped in UA before the ceasefire: no breach")
case("other-01", "damage", point(at_distance(0.5, "UA", 3000)), DAY5, "team", "damaged houses: recorded, no rule")
case("other-02", "coverage", point(at_distance(0.3, "UA", 1000)), DAY5, "cam", "camera offline for repair: recorded, no rule", coverage={"sensor": "cam-shchastia-2", "status": "offline", "until": "2015-02-21T10:00:00+02:00"})
case("other-03", "report", point(at_distance(0.5, "UA", 1000)), DAY5, "party_ua", "an allegation of a kind we cannot map: kept as a report, no rule")

out = {"type": "FeatureCollection", "features": cases}
path = os.path.join(SCEN, "observations.geojson")
with open(path, "w") as f:
    f.write('{"type": "FeatureCollection", "features": [\n')
    f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
    f.write("\n]}\n")
for c in cases:
    g = c["geometry"]
    if g["type"] == "Point":
        d = ref_distance(*g["coordinates"])
        print(f'{c["id"]:<11} {d:12.1f} m')
print(f"wrote {len(cases)} observations to {path}", file=sys.stderr)
