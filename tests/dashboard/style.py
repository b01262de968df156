#!/usr/bin/env python3
"""The web app served with an online map style (`truce serve --map-style URL`): the map draws
that style under the terms, not the bundled basemap, and the page's policy lets it load.

    style.py BASE_URL STYLE_NAME SCREENSHOT

Run by crates/truce/tests/dashboard.rs, which serves the style from another origin. Exits 1
naming the first failed check.
"""

import sys

from selenium.webdriver.support.ui import WebDriverWait

from browser import browser

BASE, NAME, SHOT = sys.argv[1:4]
d = browser()


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        d.save_screenshot(SHOT)
        sys.exit(1)


try:
    d.get(BASE + "/")
    WebDriverWait(d, 20).until(
        lambda d: d.execute_script("const m = document.getElementById('map'); return m && m.dataset.total !== undefined")
    )
    m = d.execute_script("return document.getElementById('map').dataset.basemap")
    check(m == "online", f"the map says it drew the online style ({m})")
    name = d.execute_script("return window.truceMap.getStyle().name")
    check(name == NAME, f"the style drawn is the one served ({name})")
    layers = d.execute_script("return window.truceMap.getStyle().layers.map((l) => l.id)")
    check("contact_line" in layers and "incidents" in layers, "the terms and the incidents are drawn on it")
    check("land" not in layers and "places" not in layers, "the bundled basemap is not")
    blocked = [e["message"] for e in d.get_log("browser") if "Content Security Policy" in e["message"]]
    check(not blocked, f"nothing was refused by the page's policy ({blocked[:1]})")
    d.save_screenshot(SHOT)
except Exception:
    d.save_screenshot(SHOT)
    for e in d.get_log("browser"):
        print("console:", e["message"])
    raise
finally:
    d.quit()
