#!/usr/bin/env python3
"""Replay scenario: real UCDP GED places, synthetic reports in standard formats only.

Written independently of truce-sim (no shared code, constants or formats beyond the public
ones): it reads the UCDP extract the repository ships and the scenario's party areas and
contact line (GeoJSON), and writes, for one seed,

  firms_viirs.csv      a NASA FIRMS VIIRS download (hotspots near some impacts, farm fires)
  cot/NNNN.xml         one Cursor-on-Target event per report, as a TAK device sends it
  truth.json           the true events, in the form `truce score --truth` reads

Deterministic per seed (random.Random(seed); no clock). Python 3 standard library only.

    python3 scenarios/replay/generate.py --seed 7 --out /tmp/replay-7 [--events 30]

The events: each replayed UCDP place (inside a party's area, within 20 km of the line) is an
impact; the battery that fired it stands 6-18 km away on the other side of the line (the
firing is a true event too, seen by nobody here unless a team reports a launch); one to three
ground teams report each impact within minutes and ~150 m, with an assessed calibre and, from
a crater, the direction fire came from; a satellite sees a fire at some impacts. MLRS
batteries (4 x BM-21) stand inside the 35 km withdrawal distance and are seen by one to three
teams. Farm fires burn far from the line. Some teams report "possible explosion heard,
unconfirmed" where nothing happened.
"""

import argparse
import csv
import json
import math
import os
import random
import uuid
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "..", "donbas-2015")
START = datetime(2015, 3, 2, 0, 0, tzinfo=timezone.utc)  # after every withdrawal deadline
DAYS = 3
R = 6371008.8
TEAMS = ["OSCE-T%02d" % i for i in range(1, 9)]
CALIBRES = [(120, "mortar 120mm", 7100), (122, "artillery 122mm", 15300),
            (122, "MLRS 122mm (Grad)", 20400), (152, "artillery 152mm", 18500)]
COMPASS = ["north", "north-east", "east", "south-east", "south", "south-west", "west",
           "north-west"]


def load(name):
    with open(os.path.join(SCENARIO, "geometry", name)) as f:
        return json.load(f)["features"][0]["geometry"]


def polygons(g):
    return g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]


def inside_ring(p, ring):
    x, y = p
    c = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            c = not c
    return c


def inside(p, g):
    for poly in polygons(g):
        if inside_ring(p, poly[0]) and not any(inside_ring(p, h) for h in poly[1:]):
            return True
    return False


def xy(p, o):
    """Metres east/north of o (equirectangular: good to a few metres at these ranges)."""
    k = math.cos(math.radians(o[1]))
    return (math.radians(p[0] - o[0]) * R * k, math.radians(p[1] - o[1]) * R)


def dist(a, b):
    e, n = xy(b, a)
    return math.hypot(e, n)


def move(p, az, d):
    k = math.cos(math.radians(p[1]))
    e, n = d * math.sin(math.radians(az)), d * math.cos(math.radians(az))
    return [p[0] + math.degrees(e / (R * k)), p[1] + math.degrees(n / R)]


def azimuth(a, b):
    e, n = xy(b, a)
    return math.degrees(math.atan2(e, n)) % 360.0


def line_distance(p, line):
    best = float("inf")
    for a, b in zip(line, line[1:]):
        (ax, ay), (bx, by) = xy(a, p), xy(b, p)
        dx, dy = bx - ax, by - ay
        t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / (dx * dx + dy * dy)))
        best = min(best, math.hypot(ax + t * dx, ay + t * dy))
    return best


def iso_ms(t):
    ms = t.microsecond // 1000
    return t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % ms


def cot_event(uid, ctype, t, p, ce, callsign, remarks):
    ts = iso_ms(t)
    stale = iso_ms(t + timedelta(hours=1))
    return (
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
        f'<event version="2.0" uid="{uid}" type="{ctype}" time="{ts}" start="{ts}" '
        f'stale="{stale}" how="h-g-i-g-o"><point lat="{p[1]:.7f}" lon="{p[0]:.7f}" '
        f'hae="9999999.0" ce="{ce:.1f}" le="9999999.0"/><detail>'
        f'<contact callsign="{callsign}"/><remarks>{remarks}</remarks>'
        f'<archive/><color argb="-1"/></detail></event>\n'
    )


def cot_id(uid, t):
    # What the ingest gives: cot:<uid>:<time in RFC 3339 UTC with its fraction as sent>.
    return f"cot:{uid}:{iso_ms(t)}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--events", type=int, default=30, help="impacts to replay")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ua, ru = load("area-ua.geojson"), load("area-ru.geojson")
    line = load("contact-line.geojson")["coordinates"]
    party_at = lambda p: "UA" if inside(p, ua) else ("RU" if inside(p, ru) else None)

    places = []
    with open(os.path.join(SCENARIO, "feeds", "ucdp_ged_donbas_2015_2021.csv"), newline="",
              encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            if row["where_prec"] not in ("1", "2"):
                continue
            p = [float(row["longitude"]), float(row["latitude"])]
            if party_at(p) and line_distance(p, line) < 20000:
                places.append((row["id"], p))
    places.sort()
    rng.shuffle(places)

    events, cot, firms = [], [], []
    uids = random.Random(a.seed * 7919 + 1)

    def new_uid():
        return str(uuid.UUID(int=uids.getrandbits(128), version=4))

    def at(t):
        return t.replace(microsecond=rng.randrange(1, 1000) * 1000)

    def team_reports(ev_ids, centre, t0, ctype, remarks_for, n):
        for callsign in rng.sample(TEAMS, n):
            t = at(t0 + timedelta(seconds=rng.uniform(30, 600)))
            p = move(centre, rng.uniform(0, 360), abs(rng.gauss(0, 100)))
            uid = new_uid()
            cot.append(cot_event(uid, ctype, t, p, rng.choice([50.0, 100.0, 150.0]),
                                 callsign, remarks_for(p)))
            ev_ids.append(cot_id(uid, t))
            # A TAK server re-sending its queue: the same event, byte for byte, later file.
            if rng.random() < 0.1:
                cot.append(cot[-1])

    used = []
    for ucdp_id, impact in places:
        if len([e for e in events if e["kind"] == "impact"]) >= a.events:
            break
        if any(dist(impact, u) < 3000 for u in used):
            continue
        victim = party_at(impact)
        cal, words, reach = rng.choice(CALIBRES)
        # The battery: on the other side, within reach, at least 3 km behind the line.
        gun = None
        for _ in range(200):
            q = move(impact, rng.uniform(0, 360), rng.uniform(0.35, 0.9) * reach)
            if party_at(q) not in (None, victim) and line_distance(q, line) > 3000:
                gun = q
                break
        if gun is None:
            continue
        used.append(impact)
        shooter = party_at(gun)
        t_fire = START + timedelta(seconds=rng.uniform(0, DAYS * 86400 - 7200))
        t_fire = t_fire.replace(microsecond=0)
        fid = "ev-%04d" % (len(events) + 1)
        events.append({"id": fid, "kind": "firing", "time": iso_ms(at(t_fire)),
                       "location": gun, "party": shooter, "violation": True,
                       "observation_ids": [], "attributable": False,
                       "detail": f"{words} battery firing (replays UCDP {ucdp_id})"})
        t_hit = t_fire + timedelta(seconds=rng.uniform(20, 60))
        ids = []
        back = azimuth(impact, gun)
        crater = rng.random() < 0.6

        def remarks(p, crater=crater, words=words, back=back):
            r = f"Explosions heard and impact observed, assessed {words}"
            if crater:
                seen = (back + rng.gauss(0, 12)) % 360
                r += f"; crater analysis: fired from the {COMPASS[int((seen + 22.5) // 45) % 8]}"
            return r

        team_reports(ids, impact, t_hit, "b-m-p-s-m", remarks, rng.choice([1, 2, 2, 3]))
        if rng.random() < 0.4:
            t = t_hit + timedelta(minutes=rng.uniform(20, 150))
            p = move(impact, rng.uniform(0, 360), rng.uniform(0, 250))
            firms.append((p, t, rng.uniform(1.0, 8.0), ids))
        events.append({"id": "ev-%04d" % (len(events) + 1), "kind": "impact",
                       "time": iso_ms(t_hit), "location": impact, "party": shooter,
                       "violation": True, "observation_ids": ids, "cause": fid,
                       "attributable": crater,
                       "detail": f"{words} impact at UCDP {ucdp_id}'s place"})

    # MLRS batteries inside the 35 km withdrawal distance, seen by one to three teams.
    batteries = 0
    while batteries < 6:
        p = move(rng.choice(used), rng.uniform(0, 360), rng.uniform(5000, 30000))
        holder = party_at(p)
        d = line_distance(p, line)
        if holder is None or not (2000 < d < 33000):
            continue
        batteries += 1
        t0 = START + timedelta(seconds=rng.uniform(6 * 3600, DAYS * 86400 - 12 * 3600))
        ids = []
        n = rng.choice([1, 2, 3, 3])
        team_reports(ids, p, t0, "a-u-G-E-W-R",
                     lambda _q, n=rng.choice([3, 4, 4, 6]): f"{n} x BM-21 Grad MLRS observed", n)
        events.append({"id": "ev-%04d" % (len(events) + 1), "kind": "heavy_weapon",
                       "time": iso_ms(at(t0)), "location": p, "party": holder,
                       "violation": True, "observation_ids": ids, "attributable": True,
                       "detail": f"BM-21 battery {d / 1000:.1f} km from the line"})

    # Farm fires far from the line: FIRMS only, no violation, nobody responsible.
    fires = 0
    while fires < 8:
        p = move(rng.choice(used), rng.uniform(0, 360), rng.uniform(40000, 90000))
        if party_at(p) is None or line_distance(p, line) < 35000:
            continue
        fires += 1
        t = START + timedelta(days=rng.randrange(DAYS), hours=rng.uniform(9, 12))
        ids = []
        firms.append((p, t, rng.uniform(2.0, 12.0), ids))
        events.append({"id": "ev-%04d" % (len(events) + 1), "kind": "agricultural_fire",
                       "time": iso_ms(at(t)), "location": p, "party": None,
                       "violation": False, "observation_ids": ids, "attributable": False,
                       "detail": "stubble burning"})

    # Unconfirmed reports where nothing happened (noise, in no event).
    for _ in range(4):
        p = move(rng.choice(used), rng.uniform(0, 360), rng.uniform(4000, 9000))
        t = at(START + timedelta(seconds=rng.uniform(0, DAYS * 86400)))
        cot.append(cot_event(new_uid(), "b-m-p-s-m", t, p, 150.0, rng.choice(TEAMS),
                             "possible explosion heard, unconfirmed"))

    # FIRMS rows: the satellite's pixel centre, the pass time rounded to the minute.
    rows = []
    for p, t, frp, ids in firms:
        t = t.replace(second=0, microsecond=0)
        lat, lon = round(p[1], 5), round(p[0], 5)
        rows.append((t, lat, lon, frp))
        ids.append(f"firms:N:{t:%Y-%m-%d}T{t:%H%M}:{lat!r}:{lon!r}")
    rows.sort()
    os.makedirs(os.path.join(a.out, "cot"), exist_ok=True)
    with open(os.path.join(a.out, "firms_viirs.csv"), "w", newline="") as f:
        f.write("latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,"
                "instrument,confidence,version,bright_t31,frp,daynight\n")
        for t, lat, lon, frp in rows:
            f.write(f"{lat!r},{lon!r},{round(330 + frp * 3, 2)!r},0.41,0.37,{t:%Y-%m-%d},"
                    f"{t:%H%M},N,VIIRS,n,2.0NRT,290.5,{round(frp, 2)!r},D\n")
    for i, text in enumerate(cot):
        with open(os.path.join(a.out, "cot", "%04d.xml" % i), "w") as f:
            f.write(text)
    for e in events:
        e["observation_ids"] = sorted(set(e["observation_ids"]))
    events.sort(key=lambda e: (e["time"], e["id"]))
    truth = {"seed": a.seed, "days": DAYS, "start": iso_ms(START),
             "end": iso_ms(START + timedelta(days=DAYS)), "generator": "scenarios/replay",
             "events": events, "outages": []}
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
