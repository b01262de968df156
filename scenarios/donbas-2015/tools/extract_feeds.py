#!/usr/bin/env python3
"""Extracts the real feeds bundled with the scenario from the shared data, bytes unchanged.

    python3 scenarios/donbas-2015/tools/extract_feeds.py /work/shared/data

- feeds/firms_viirs_snpp_donbas_2023.csv: the rows of the NASA FIRMS VIIRS S-NPP export whose
  position lies in the Donbas box 36.8–40.3 E, 46.9–49.3 N (header kept).
- feeds/ucdp_ged_donbas_2015_2021.csv: the UCDP GED records of 2015–2021 in Donetsk and Luhansk
  oblasts (adm_1), each record's bytes unchanged — Windows-1252 bytes and quoted newlines
  included, because the ingest adapters must cope with exactly that.
"""
import csv
import os
import sys

data = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"
out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "feeds")
os.makedirs(out, exist_ok=True)

rows = open(os.path.join(data, "firms/fire_nrt_SV-C2_400448_ukraine_2023.csv"), "rb").read().split(b"\n")
keep = [rows[0]]
for r in rows[1:]:
    if not r.strip():
        continue
    f = r.split(b",")
    lat, lon = float(f[0]), float(f[1])
    if 36.8 <= lon <= 40.3 and 46.9 <= lat <= 49.3:
        keep.append(r)
open(os.path.join(out, "firms_viirs_snpp_donbas_2023.csv"), "wb").write(b"\n".join(keep) + b"\n")
print("FIRMS rows", len(keep) - 1)

# latin-1 maps every byte to one character and back, so each record's bytes survive unchanged.
text = open(os.path.join(data, "conflict_events/ucdp_ged_ukraine_2014_2023.csv"), "rb").read().decode("latin-1")
consumed = []


def lines():
    for line in text.splitlines(keepends=True):
        consumed.append(line)
        yield line


reader = csv.reader(lines())
header = next(reader)
records = ["".join(consumed)]
consumed.clear()
year, adm1 = header.index("year"), header.index("adm_1")
for rec in reader:
    raw = "".join(consumed)
    consumed.clear()
    if len(rec) > adm1 and rec[year] and 2015 <= int(rec[year]) <= 2021 and ("Donetsk" in rec[adm1] or "Luhansk" in rec[adm1]):
        records.append(raw)
open(os.path.join(out, "ucdp_ged_donbas_2015_2021.csv"), "wb").write("".join(records).encode("latin-1"))
print("UCDP records", len(records) - 1)
