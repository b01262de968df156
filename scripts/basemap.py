#!/usr/bin/env python3
"""Writes the web app's offline basemap (crates/truce-server/web/basemap/) from open data.

    scripts/basemap.py SHARED_DATA_DIR [SCENARIO_DIR]

Run by hand when the sources change; its output is committed and embedded in the binary, so
neither the tests nor the demo read SHARED_DATA_DIR. Sources (licences in basemap/README.md):

- land.geojson: Natural Earth 1:50m admin-0 Ukraine (boundaries/ne_50m_admin0_ukraine.geojson),
  coordinates rounded to 4 decimals (~10 m).
- admin1.geojson: the 27 first-level units (boundaries/ukraine_oblasts_minregion_2020.geojson,
  © Мінрегіон, CC BY-SA), each ring simplified by Douglas–Peucker at 0.01° (~1 km): 82,000
  vertices become a few thousand.
- places.geojson: settlements from the GeoNames postal gazetteer (gazetteer/geonames_postal_UA.txt,
  CC BY 4.0), ranked by how many postal codes share the name in one oblast (a proxy for size:
  the file has no population), and the towns UCDP GED geocodes exactly (where_prec 1) that are named in UCDP_UK
  below and that GeoNames has none of within 5 km — the occupied cities (Donetsk, Luhansk, Horlivka …) have no
  Ukrainian postal codes. Names: Ukrainian (`name_uk`), Latin by the national transliteration
  (KMU 2010, `name_en`); `rank` 1 (largest) … 4.
"""

import csv
import json
import math
import os
import sys
from collections import defaultdict

SHARED = sys.argv[1]
SCENARIO = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), '..', 'scenarios', 'donbas-2015')
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'crates', 'truce-server', 'web', 'basemap')


def rnd(c, d=4):
    return [round(c[0], d), round(c[1], d)]


def dp(points, tol):
    """Douglas–Peucker on a list of [x, y] (planar degrees; enough for a basemap)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        ax, ay = points[a]
        bx, by = points[b]
        dx, dy = bx - ax, by - ay
        norm = math.hypot(dx, dy)
        best, at = -1.0, -1
        for i in range(a + 1, b):
            px, py = points[i]
            d = abs(dy * (px - ax) - dx * (py - ay)) / norm if norm else math.hypot(px - ax, py - ay)
            if d > best:
                best, at = d, i
        if at >= 0 and best > tol:
            keep[at] = True
            stack += [(a, at), (at, b)]
    return [p for p, k in zip(points, keep) if k]


def simplify_polygon(rings, tol):
    out = []
    for k, ring in enumerate(rings):
        s = [rnd(p) for p in dp(ring, tol)]
        dedup = [p for i, p in enumerate(s) if i == 0 or p != s[i - 1]]
        if len(dedup) >= 4:
            out.append(dedup)
        elif k == 0:
            return None
    return out


def write(name, features):
    path = os.path.join(OUT, name)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump({'type': 'FeatureCollection', 'features': features}, f, ensure_ascii=False, separators=(',', ':'))
    print(f'{path}: {len(features)} features, {os.path.getsize(path):,} bytes')


TRANSLIT = {
    'а': 'a', 'б': 'b', 'в': 'v', 'г': 'h', 'ґ': 'g', 'д': 'd', 'е': 'e', 'є': 'ie', 'ж': 'zh', 'з': 'z',
    'и': 'y', 'і': 'i', 'ї': 'i', 'й': 'i', 'к': 'k', 'л': 'l', 'м': 'm', 'н': 'n', 'о': 'o', 'п': 'p',
    'р': 'r', 'с': 's', 'т': 't', 'у': 'u', 'ф': 'f', 'х': 'kh', 'ц': 'ts', 'ч': 'ch', 'ш': 'sh',
    'щ': 'shch', 'ь': '', 'ю': 'iu', 'я': 'ia', "'": '', '’': '', 'ʼ': '',
}
INITIAL = {'є': 'ye', 'ї': 'yi', 'й': 'y', 'ю': 'yu', 'я': 'ya'}


def translit(name):
    """Ukrainian → Latin by the Cabinet of Ministers' table of 2010 (as on road signs)."""
    out = []
    start = True
    low = name.lower()
    for i, ch in enumerate(low):
        if ch in TRANSLIT:
            t = INITIAL.get(ch, TRANSLIT[ch]) if start else TRANSLIT[ch]
            if ch == 'г' and i > 0 and low[i - 1] == 'з':
                t = 'gh'
            if name[i].isupper():
                t = t[:1].upper() + t[1:]
            out.append(t)
            start = False
        else:
            out.append(name[i])
            start = not ch.isalpha()
    return ''.join(out)


# The UCDP towns that are the occupied area's cities, with their Ukrainian names (UCDP gives
# only a Latin spelling); a town not named here keeps UCDP's spelling in both.
UCDP_UK = {
    'Donetsk': 'Донецьк', 'Luhansk': 'Луганськ', 'Horlivka': 'Горлівка', 'Debaltseve': 'Дебальцеве',
    'Yasynuvata': 'Ясинувата', 'Dokuchaevsk': 'Докучаєвськ', 'Makiivka': 'Макіївка',
    'Alchevsk': 'Алчевськ', 'Stakhanov': 'Кадіївка', 'Khartsyzk': 'Харцизьк', 'Yenakiieve': 'Єнакієве',
    'Shakhtarsk': 'Шахтарськ', 'Torez': 'Чистякове', 'Snizhne': 'Сніжне', 'Krasnyi Luch': 'Хрустальний',
    'Antratsyt': 'Антрацит', 'Sverdlovsk': 'Довжанськ', 'Krasnodon': 'Сорокине', 'Pervomaisk': 'Первомайськ',
    'Brianka': 'Брянка', 'Kirovsk': 'Голубівка', 'Novoazovsk': 'Новоазовськ', 'Amvrosiivka': 'Амвросіївка',
    'Ilovaisk': 'Іловайськ', 'Zuhres': 'Зугрес', 'Vuhlehirsk': 'Вуглегірськ', 'Molodohvardiisk': 'Молодогвардійськ',
}


def main():
    os.makedirs(OUT, exist_ok=True)
    land = json.load(open(os.path.join(SHARED, 'boundaries', 'ne_50m_admin0_ukraine.geojson'), encoding='utf-8'))
    feats = []
    for f in land['features']:
        g = f['geometry']
        polys = [g['coordinates']] if g['type'] == 'Polygon' else g['coordinates']
        polys = [[[rnd(p) for p in ring] for ring in poly] for poly in polys]
        feats.append({'type': 'Feature', 'properties': {'name': 'Україна'}, 'geometry': {'type': 'MultiPolygon', 'coordinates': polys}})
    write('land.geojson', feats)

    oblasts = json.load(open(os.path.join(SHARED, 'boundaries', 'ukraine_oblasts_minregion_2020.geojson'), encoding='utf-8'))
    feats = []
    for f in oblasts['features']:
        g = f['geometry']
        polys = [g['coordinates']] if g['type'] == 'Polygon' else g['coordinates']
        simple = [p for p in (simplify_polygon(poly, 0.01) for poly in polys) if p]
        if simple:
            feats.append({'type': 'Feature', 'properties': {'name': f['properties']['ADMIN_1']},
                          'geometry': {'type': 'MultiPolygon', 'coordinates': simple}})
    write('admin1.geojson', feats)

    # GeoNames postal rows: country, code, place, admin1 name, admin1 code, …, lat, lon, accuracy.
    codes = defaultdict(int)
    where = {}
    with open(os.path.join(SHARED, 'gazetteer', 'geonames_postal_UA.txt'), encoding='utf-8') as f:
        for row in csv.reader(f, delimiter='\t'):
            key = (row[2], row[3])
            codes[key] += 1
            where.setdefault(key, (float(row[10]), float(row[9])))
    places = []
    for key, n in codes.items():
        if n < 3:
            continue
        rank = 1 if n >= 40 else 2 if n >= 15 else 3 if n >= 6 else 4
        lon, lat = where[key]
        places.append({'name_uk': key[0], 'name_en': translit(key[0]), 'rank': rank, 'at': [round(lon, 4), round(lat, 4)], 'source': 'GeoNames'})

    def near(lon, lat):
        return any(abs(p['at'][0] - lon) * 67 < 5 and abs(p['at'][1] - lat) * 111 < 5 for p in places)

    towns = defaultdict(int)
    at = {}
    with open(os.path.join(SCENARIO, 'feeds', 'ucdp_ged_donbas_2015_2021.csv'), encoding='utf-8', errors='replace') as f:
        for row in csv.DictReader(f):
            name = row['where_coordinates']
            if row['where_prec'] == '1' and name.endswith(' town'):
                towns[name[:-5]] += 1
                at[name[:-5]] = (float(row['longitude']), float(row['latitude']))
    for name, n in towns.items():
        lon, lat = at[name]
        if name not in UCDP_UK or near(lon, lat):
            continue
        uk = UCDP_UK[name]
        rank = 1 if name in ('Donetsk', 'Luhansk') else 2
        places.append({'name_uk': uk, 'name_en': name, 'rank': rank, 'at': [round(lon, 4), round(lat, 4)], 'source': 'UCDP GED'})
    places.sort(key=lambda p: (p['rank'], p['name_en']))
    write('places.geojson', [
        {'type': 'Feature', 'properties': {k: v for k, v in p.items() if k != 'at'}, 'geometry': {'type': 'Point', 'coordinates': p['at']}}
        for p in places
    ])


main()
