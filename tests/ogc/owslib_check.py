#!/usr/bin/env python3
"""Reads Truce's OGC API - Features with OWSLib, as a Python client would, and prints what it
found as one JSON object for crates/truce/tests/ogc.rs to check.

usage: owslib_check.py URL BBOX [TOKEN]
  URL    the service root (http://127.0.0.1:PORT)
  BBOX   minlon,minlat,maxlon,maxlat for the incidents query
  TOKEN  a bearer token (omit for the public)
"""
import json
import sys

from owslib.ogcapi.features import Features


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    url, bbox = sys.argv[1], [float(x) for x in sys.argv[2].split(",")]
    headers = {"Authorization": "Bearer " + sys.argv[3]} if len(sys.argv) == 4 else None
    api = Features(url, headers=headers)

    out = {
        "landing_links": sorted(link["rel"] for link in api.links),
        "conformance": api.conformance()["conformsTo"],
        "collections": [c["id"] for c in api.collections()["collections"]],
        "incidents_title": api.collection("incidents")["title"],
    }
    page1 = api.collection_items("incidents", bbox=bbox, limit=2)
    page2 = api.collection_items("incidents", bbox=bbox, limit=2, offset=2)
    out["incidents_bbox"] = {
        "numberMatched": page1["numberMatched"],
        "numberReturned": page1["numberReturned"],
        "page1": [f["id"] for f in page1["features"]],
        "page2": [f["id"] for f in page2["features"]],
        "coordinates": [f["geometry"]["coordinates"] for f in page1["features"]],
        "next": [link["href"] for link in page1["links"] if link["rel"] == "next"],
    }
    zones = api.collection_items("zones", limit=10)
    out["zones"] = {
        f["id"]: {"geometry": (f["geometry"] or {}).get("type"),
                  "within_km": f["properties"].get("within_km")}
        for f in zones["features"]
    }
    if "observations" in out["collections"]:
        obs = api.collection_items("observations", bbox=bbox, limit=5)
        out["observations_bbox"] = {
            "numberMatched": obs["numberMatched"],
            "ids": [f["id"] for f in obs["features"]],
        }
        one = api.collection_item("observations", str(obs["features"][0]["id"]))
        out["observation_item"] = {"id": one["id"], "coordinates": one["geometry"]["coordinates"]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
