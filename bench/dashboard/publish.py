#!/usr/bin/env python3
"""Publishes K located incidents spread over a store, so the public's map has something to draw.

    publish.py BASE_URL ANALYST_TOKEN K

Takes every (total / K)-th located incident of the analyst's list (newest first, so the
published ones span the store's days and places) and verifies then publishes it through
`POST /api/incidents/{id}/decisions`, as an analyst would. Prints how many it published.
Run once per store by bench/dashboard/run.sh.
"""

import json
import sys
import urllib.error
import urllib.request

BASE, TOKEN, K = sys.argv[1], sys.argv[2], int(sys.argv[3])


def call(path, body=None):
    req = urllib.request.Request(BASE + path, method="POST" if body is not None else "GET")
    req.add_header("Authorization", "Bearer " + TOKEN)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, data, timeout=60) as r:
        return json.loads(r.read())


located, offset = [], 0
while True:
    page = call(f"/api/incidents?limit=1000&offset={offset}")
    located += [i["id"] for i in page["incidents"] if isinstance(i.get("location"), list) and i["state"] != "published"]
    if page.get("next_offset") is None:
        break
    offset = page["next_offset"]
step = max(1, len(located) // K)
done = 0
for i in located[::step][:K]:
    try:
        for action in ["verify", "publish"]:
            call(f"/api/incidents/{i}/decisions", {"action": action, "reason": "dashboard bench"})
        done += 1
    except urllib.error.HTTPError as e:
        if e.code != 409:  # a state that does not allow it: skip that one
            raise
print(done)
