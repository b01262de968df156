#!/usr/bin/env python3
"""Measures the web app's map in headless Chromium (Selenium) against a running `truce serve`.

    measure.py BASE_URL LABEL [TOKEN]      # no TOKEN: the public

Run by bench/dashboard/run.sh (issue 12's budget: first meaningful paint < 1.5 s over
loopback, no long task > 100 ms while panning, incidents fetched in pages for the view, never
the whole table). Each run is a fresh browser (cold cache, new profile) opening BASE_URL/#/map;
RUNS runs (default 3), the medians printed last as one JSON line prefixed `RESULT `.

What is measured, all in the page's own clock (`performance.now()`, 0 = navigation start):

- **first meaningful paint (FMP)**: the first MapLibre `render` event (the map is hooked as soon
  as the app has made it, `window.truceMap`) at which `queryRenderedFeatures` finds a feature
  of the incident layers (`clusters` or `incidents`): the incident layer has drawn its first
  circles. **count** is when the app wrote the view's count (`#map[data-total]`, which it
  writes once every page of the view is handed to MapLibre). A view with no incident (the
  public on a store with nothing published) has no such render: its FMP is the time the app
  wrote the count (`empty` is then true).
- **long tasks** (`PerformanceObserver` of type `longtask`, installed before the page's own
  scripts with `Page.addScriptToEvaluateOnNewDocument`): every main-thread task over 50 ms,
  counted during the load (up to the idle after the first view) and during the pans.
- **the pans**: PANS mouse drags of 300 px on the map (right, down, left, up, ...; 10 steps
  each, as a user's drag) and two zooms (the zoom-in button, then zoom-out), each waited for
  until the app has loaded the new view's incidents (`#map[data-total]` written again) and
  MapLibre has gone idle after it, then 300 ms more.
- **STATE=s** (a baseline): before the pans the map's state filter is set to `s`; on a
  store with no incident in that state, the pans move a map with an empty incident layer.
- **requests per pan**: the resource timing entries started during each pan, for the list
  (`/api/incidents?…`) and for single incidents (`/api/incidents/{id}`, the staff's bearings),
  with their bytes (`encodedBodySize`, as sent; `decodedBodySize`, as parsed).
"""

import json
import os
import shutil
import statistics
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE, LABEL = sys.argv[1], sys.argv[2]
TOKEN = sys.argv[3] if len(sys.argv) > 3 else ""
RUNS = int(os.environ.get("RUNS", "3"))
PANS = int(os.environ.get("PANS", "10"))
PAN_PX = int(os.environ.get("PAN_PX", "300"))
STATE = os.environ.get("STATE", "")

# Installed before any of the page's scripts: the token (as the app's sign-in keeps it), the
# observers, and a hook on the map once the app has made it.
PROBE = r"""
(() => {
  const token = %s;
  if (token) sessionStorage.setItem('truce.token', token);
  performance.setResourceTimingBufferSize(100000);
  const P = (window.__perf = { longtasks: [], paints: {}, loads: [], fmp: null, empty: false, idles: [], moves: [] });
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) P.longtasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) P.paints[e.name] = e.startTime;
  }).observe({ type: 'paint', buffered: true });
  // The map, as soon as the app has made it (`window.truceMap`, set with the map's canvas).
  let hooked = null;
  const hook = (m) => {
    if (!m || m === hooked) return;
    hooked = m;
    m.on('idle', () => P.idles.push(performance.now()));
    m.on('movestart', () => P.moves.push(['start', performance.now()]));
    m.on('moveend', () => P.moves.push(['end', performance.now()]));
    m.on('render', () => {
      if (P.fmp !== null || !m.getSource('incidents')) return;
      const layers = ['clusters', 'incidents'].filter((l) => m.getLayer(l));
      if (layers.length && m.queryRenderedFeatures({ layers }).length) P.fmp = performance.now();
    });
  };
  new MutationObserver((records) => {
    hook(window.truceMap);
    for (const r of records) {
      if (r.type !== 'attributes' || r.target.id !== 'map' || r.attributeName !== 'data-total') continue;
      const now = performance.now();
      P.loads.push([now, Number(r.target.dataset.total), Number(r.target.dataset.incidents)]);
      if (P.loads.length === 1 && Number(r.target.dataset.incidents) === 0 && P.fmp === null) {
        P.fmp = now;
        P.empty = true;
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-total'] });
})();
"""


def browser():
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        sys.exit("chromium and chromedriver are needed (Debian: apt install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    # As tests/dashboard/drive.py: headless, software WebGL, the same window.
    for a in ["--headless=new", "--no-sandbox", "--enable-unsafe-swiftshader", "--window-size=1400,900", "--lang=en-US"]:
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(driver), options=opts)


def perf(d):
    return d.execute_script("return window.__perf")


def wait_view(d, loads_before, timeout=60):
    """Until the app has written the count of a new view and MapLibre has gone idle after it."""

    def ready(d):
        p = d.execute_script(
            "const P = window.__perf; return P && [P.loads.length, P.loads.length ? P.loads[P.loads.length - 1][0] : 0,"
            " P.idles.length ? P.idles[P.idles.length - 1] : -1]"
        )
        return p and p[0] > loads_before and p[2] >= p[1]

    try:
        WebDriverWait(d, timeout, poll_frequency=0.05).until(ready)
    except Exception:
        p = perf(d)
        sys.exit(f"no new view after {timeout} s: loads {p['loads'][-3:]}, idles {p['idles'][-3:]}, "
                 f"center {d.execute_script('return window.truceMap && window.truceMap.getCenter()')}")


def resources(d, since):
    return d.execute_script(
        "return performance.getEntriesByType('resource').filter((e) => e.startTime >= arguments[0])"
        ".map((e) => [e.name, e.startTime, e.duration, e.encodedBodySize, e.decodedBodySize])",
        since,
    )


def one_run():
    d = browser()
    try:
        d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE % json.dumps(TOKEN)})
        d.get(BASE + "/#/map")
        wait_view(d, 0)
        time.sleep(0.3)
        p = perf(d)
        first = p["loads"][0]
        if STATE:
            # The baseline: the same pans with the map filtered to one state (STATE=verified on
            # a store with none gives an empty incident layer: MapLibre drawing the terms only).
            before = len(perf(d)["loads"])
            d.execute_script(
                "const s = document.getElementById('state-filter'); s.value = arguments[0];"
                " s.dispatchEvent(new Event('change'))",
                STATE,
            )
            wait_view(d, before)
            time.sleep(0.3)
        loaded_at = d.execute_script("return performance.now()")
        # The pans: drags of PAN_PX around a square, and a zoom in and out between them.
        canvas = d.find_element(By.CSS_SELECTOR, "#map canvas")
        dirs = [(1, 0), (0, 1), (-1, 0), (0, -1)]
        moves = []
        for k in range(PANS):
            moves.append(("pan", dirs[k % 4]))
            if k == PANS // 3:
                moves.append(("zoom-in", None))
            if k == 2 * PANS // 3:
                moves.append(("zoom-out", None))
        pans = []
        pan_start = d.execute_script("return performance.now()")
        for kind, v in moves:
            before = len(perf(d)["loads"])
            t0 = d.execute_script("return performance.now()")
            if kind == "pan":
                steps = 10
                # From half a pan before the centre to half a pan past it: the pointer stays on
                # the map (a release outside the canvas is not always seen as the drag's end).
                a = ActionChains(d, duration=20).move_to_element_with_offset(
                    canvas, -v[0] * PAN_PX // 2, -v[1] * PAN_PX // 2
                ).click_and_hold()
                for _ in range(steps):
                    a.move_by_offset(v[0] * PAN_PX // steps, v[1] * PAN_PX // steps)
                a.release().perform()
            else:
                d.find_element(By.CSS_SELECTOR, ".maplibregl-ctrl-" + kind).click()
            wait_view(d, before)
            time.sleep(0.3)
            res = resources(d, t0)
            lists = [r for r in res if "/api/incidents?bbox=" in r[0]]
            singles = [r for r in res if "/api/incidents/" in r[0]]
            pp = perf(d)
            pans.append(
                {
                    "kind": kind,
                    "list_requests": len(lists),
                    "list_bytes": sum(r[3] for r in lists),
                    "list_bytes_decoded": sum(r[4] for r in lists),
                    "single_requests": len(singles),
                    "in_view": pp["loads"][-1][1],
                    "drawn": pp["loads"][-1][2],
                    "ms_to_view": pp["loads"][-1][0] - t0,
                }
            )
        pan_end = d.execute_script("return performance.now()")
        p = perf(d)
        pan_tasks = [t for t in p["longtasks"] if pan_start <= t[0] <= pan_end]
        # A long task during a move (movestart to moveend: the drag and its inertia, a zoom's
        # easing) is MapLibre drawing frames; after it, the app loading the view's incidents.
        spans, open_at = [], None
        for kind, at in p["moves"]:
            if kind == "start" and open_at is None:
                open_at = at
            elif kind == "end" and open_at is not None:
                spans.append((open_at, at))
                open_at = None
        moving = [t for t in pan_tasks if any(a - 1 <= t[0] <= b for a, b in spans)]
        loading = [t for t in pan_tasks if t not in moving]
        load_tasks = [t for t in p["longtasks"] if t[0] < pan_start]
        res0 = [r for r in resources(d, 0) if "/api/incidents?bbox=" in r[0] and r[1] < pan_start]
        return {
            "fmp_ms": p["fmp"],
            "empty": p["empty"],
            "fcp_ms": p["paints"].get("first-contentful-paint"),
            "first_count_ms": first[0],
            "in_view": first[1],
            "drawn": first[2],
            "load_list_requests": len(res0),
            "load_list_bytes": sum(r[3] for r in res0),
            "load_longtasks": len(load_tasks),
            "load_longest_ms": max((t[1] for t in load_tasks), default=0),
            "pan_longtasks": len(pan_tasks),
            "pan_longtasks_over_100": sum(1 for t in pan_tasks if t[1] > 100),
            "pan_longest_ms": max((t[1] for t in pan_tasks), default=0),
            "pan_longest_moving_ms": max((t[1] for t in moving), default=0),
            "pan_longest_loading_ms": max((t[1] for t in loading), default=0),
            "pan_longtasks_loading": len(loading),
            "pan_longtasks_loading_over_100": sum(1 for t in loading if t[1] > 100),
            "pans": pans,
            "loaded_at_ms": loaded_at,
        }
    finally:
        d.quit()


def median(xs):
    return statistics.median(xs) if xs else None


runs = []
for k in range(RUNS):
    r = one_run()
    runs.append(r)
    per_pan = r["pans"]
    print(
        f"{LABEL} run {k + 1}: FMP {r['fmp_ms']:.0f} ms{' (empty view)' if r['empty'] else ''} "
        f"(FCP {r['fcp_ms'] or 0:.0f} ms, count written {r['first_count_ms']:.0f} ms; {r['drawn']} of {r['in_view']} in view, "
        f"{r['load_list_requests']} list requests, {r['load_list_bytes'] / 1e3:.0f} kB); "
        f"load: {r['load_longtasks']} long tasks, longest {r['load_longest_ms']:.0f} ms; "
        f"pans: {r['pan_longtasks']} long tasks, {r['pan_longtasks_over_100']} over 100 ms, longest {r['pan_longest_ms']:.0f} ms "
        f"(moving: longest {r['pan_longest_moving_ms']:.0f} ms; loading: {r['pan_longtasks_loading']} long tasks, "
        f"{r['pan_longtasks_loading_over_100']} over 100 ms, longest {r['pan_longest_loading_ms']:.0f} ms); "
        f"per pan: {median([p['list_requests'] for p in per_pan])} list requests, "
        f"{median([p['list_bytes'] for p in per_pan]) / 1e3:.0f} kB, {median([p['single_requests'] for p in per_pan])} single, "
        f"{median([p['ms_to_view'] for p in per_pan]):.0f} ms to the view's count",
        flush=True,
    )
    if os.environ.get("VERBOSE"):
        print(json.dumps(r), flush=True)

all_pans = [p for r in runs for p in r["pans"]]
summary = {
    "label": LABEL,
    "runs": RUNS,
    "fmp_ms": median([r["fmp_ms"] for r in runs]),
    "fmp_max_ms": max(r["fmp_ms"] for r in runs),
    "empty": any(r["empty"] for r in runs),
    "fcp_ms": median([r["fcp_ms"] or 0 for r in runs]),
    "first_count_ms": median([r["first_count_ms"] for r in runs]),
    "in_view": runs[0]["in_view"],
    "drawn": runs[0]["drawn"],
    "load_list_requests": median([r["load_list_requests"] for r in runs]),
    "load_list_kb": median([r["load_list_bytes"] for r in runs]) / 1e3,
    "load_longest_ms": median([r["load_longest_ms"] for r in runs]),
    "pan_longtasks": median([r["pan_longtasks"] for r in runs]),
    "pan_longtasks_over_100": median([r["pan_longtasks_over_100"] for r in runs]),
    "pan_longest_ms": median([r["pan_longest_ms"] for r in runs]),
    "pan_longest_max_ms": max(r["pan_longest_ms"] for r in runs),
    "pan_longest_moving_ms": median([r["pan_longest_moving_ms"] for r in runs]),
    "pan_longest_loading_ms": median([r["pan_longest_loading_ms"] for r in runs]),
    "pan_longtasks_loading_over_100": median([r["pan_longtasks_loading_over_100"] for r in runs]),
    "list_requests_per_pan": median([p["list_requests"] for p in all_pans]),
    "list_requests_per_pan_max": max(p["list_requests"] for p in all_pans),
    "list_kb_per_pan": median([p["list_bytes"] for p in all_pans]) / 1e3,
    "single_requests_per_pan": median([p["single_requests"] for p in all_pans]),
    "ms_to_view_per_pan": median([p["ms_to_view"] for p in all_pans]),
}
print("RESULT " + json.dumps(summary), flush=True)
