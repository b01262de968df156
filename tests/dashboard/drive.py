#!/usr/bin/env python3
"""Drives the Truce web app in headless Chromium (Selenium) against a running `truce serve`.

    drive.py BASE_URL ANALYST_TOKEN PARTY_RU_TOKEN PUBLISHED_INCIDENT SCREENSHOT_DIR TEAM_1_TOKEN \
        REVOCABLE_PARTY_UA_TOKEN TRUCE_BINARY STORE REVOCABLE_TOKEN_ID

Run by crates/truce/tests/dashboard.rs. Every check compares what the page shows with what the
API answers the same token, so a page showing more (or less) than the role may see fails. A
screenshot of every view is saved to SCREENSHOT_DIR. Exits 1 naming the first failed check.
Needs the `selenium` package, Debian's `chromium` and `chromium-driver`; a missing one fails.
"""

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser import browser

BASE, ANALYST, PARTY, PUBLISHED, SHOTS, TEAM, REVOCABLE, TRUCE, STORE, REVOCABLE_ID = sys.argv[1:11]
PARTY_ID = "RU"


def api(path, token=None, body=None):
    req = urllib.request.Request(BASE + path, method="POST" if body is not None else "GET")
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, data, timeout=30) as r:
        return json.loads(r.read())


d = browser()
wait = WebDriverWait(d, 20)


def shot(name):
    d.save_screenshot(f"{SHOTS}/{name}.png")


AXE = __import__("os").path.join(__import__("os").path.dirname(__file__), "node_modules/axe-core/axe.min.js")


def axe(view):
    """axe-core over the page as it stands: no serious or critical violation of WCAG 2 A/AA."""
    try:
        source = open(AXE).read()
    except OSError as e:
        check(False, f"axe-core is needed ({e}); scripts/test installs it (npm ci --prefix tests/dashboard)")
    d.execute_script("if (typeof window.axe === 'undefined') { " + source + " }")
    found = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] })"
        ".then((r) => done(r.violations.map((v) => [v.id, v.impact, v.nodes.length, v.nodes.slice(0, 3).map((n) => n.target.join(' '))])),"
        "      (e) => done([['axe-error', 'critical', 0, [String(e)]]]));"
    )
    serious = [v for v in found if v[1] in ("serious", "critical")]
    check(not serious, f"axe-core on {view}: no serious or critical violation ({len(found)} minor)" if not serious else f"axe-core on {view}: {serious}")


def check(cond, what):
    if not cond:
        shot("failure")
        logs = "\n".join(str(e) for e in d.get_log("browser"))
        print(f"FAIL: {what}\nbrowser console:\n{logs}", flush=True)
        d.quit()
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def go(hash_):
    d.execute_script("location.hash = arguments[0]", hash_)


def shown_view(name):
    """Waits until the app has routed to view `name` (`main[data-view]`)."""
    wait.until(lambda d: d.execute_script("return document.getElementById('main').dataset.view") == name)


def sign_in(token):
    go("#/login")
    box = wait.until(lambda d: d.find_element(By.ID, "token"))
    box.clear()
    box.send_keys(token)
    d.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: not d.execute_script("return location.hash").startswith("#/login"))


def sign_out():
    d.execute_script("sessionStorage.clear()")
    d.get(BASE + "/")
    wait.until(lambda d: d.find_element(By.ID, "who").text)


def texts(css):
    """The text of every element matching `css`, read in one script: a page drawing itself
    again between a lookup and a read cannot leave the test holding a stale element."""
    return d.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (e) => e.innerText)", css
    )


def logged_seq(form_css):
    """The log seq the form `form_css` says it logged, or None (read in one script)."""
    v = d.execute_script(
        "const e = document.querySelector(arguments[0] + ' .result.logged'); return e && e.dataset.seq",
        form_css,
    )
    return int(v) if v else None


def map_loaded():
    return wait.until(
        lambda d: d.execute_script(
            "const m = document.getElementById('map'); return m && m.dataset.total !== undefined && m.dataset.total"
        )
    )


def view_bbox():
    b = d.execute_script(
        "const b = window.truceMap.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]"
    )
    return ",".join(f"{min(180, max(-180, v)) if i % 2 == 0 else min(90, max(-90, v)):.5f}" for i, v in enumerate(b))


def api_all(path, token):
    """Every incident of `path` (a /api/incidents query), page by page, at most 5,000 as the map."""
    out, offset = [], 0
    while True:
        page = api(f"{path}&limit=1000&offset={offset}", token)
        out += page["incidents"]
        if page.get("next_offset") is None or len(out) >= 5000:
            return out
        offset = page["next_offset"]


def fire_matches_api(token, label, extra=""):
    """The origins of fire and strike–firing links drawn are those the API gives for the view."""
    map_loaded()
    given = api_all(f"/api/incidents?bbox={view_bbox()}{extra}", token)
    origins = sum(1 for i in given if i.get("origin"))
    links = set()
    for i in given:
        for l in i.get("links") or []:
            if isinstance(i.get("location"), list) and isinstance(l.get("location"), list):
                links.add(tuple(sorted([i["id"], l["incident"]])))
    drawn = d.execute_script("const m = document.getElementById('map'); return [m.dataset.origins, m.dataset.links]")
    check(drawn == [str(origins), str(len(links))], f"{label}: origins and links drawn {drawn} are the API's [{origins}, {len(links)}]")
    if token == ANALYST:
        # A strike linked to a firing with no place: linked to the firing's rays (staff, who are
        # given bearings), for the first 25 such links in the list's order.
        pairs = []
        for i in given:
            for l in i.get("links") or []:
                if isinstance(i.get("location"), list) and not isinstance(l.get("location"), list) and (i["id"], l["incident"]) not in pairs:
                    pairs.append((i["id"], l["incident"]))
        to_rays = sum(1 for _, f in pairs[:25] if any(b["firing"] for b in api(f"/api/incidents/{f}", token).get("bearings") or []))
        drawn_rays = d.execute_script("return document.getElementById('map').dataset.rayLinks")
        check(drawn_rays == str(to_rays), f"{label}: links to firings with no place drawn to their rays ({drawn_rays} of {to_rays})")
    return origins, len(links)


def map_matches_api(token, label, extra=""):
    total = int(map_loaded())
    shown = int(d.execute_script("return document.getElementById('map').dataset.incidents"))
    b = d.execute_script(
        "const b = window.truceMap.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]"
    )
    bbox = ",".join(f"{min(180, max(-180, v)) if i % 2 == 0 else min(90, max(-90, v)):.5f}" for i, v in enumerate(b))
    page = api(f"/api/incidents?bbox={bbox}&limit=1{extra}", token)
    check(total == page["total"], f"{label}: the map's {total} incidents in view are the API's {page['total']}")
    check(shown == min(total, 5000), f"{label}: {shown} incidents are drawn (of {total})")
    return total, rendered_points()


def rendered_points():
    """The incidents MapLibre holds as features (clusters count their points)."""
    return d.execute_script(
        "if (!window.truceMap) return 0;"
        "const fs = window.truceMap.querySourceFeatures('incidents');"
        "const seen = new Set(); let n = 0;"
        "for (const f of fs) { const k = f.properties.cluster_id !== undefined ? 'c' + f.properties.cluster_id : f.properties.id;"
        "  if (seen.has(k)) continue; seen.add(k); n += f.properties.point_count || 1; } return n;"
    )


def wait_proofs():
    """Waits until every proof on the page is checked; answers their statuses."""
    read = "return Array.from(document.querySelectorAll('td.proof'), (e) => e.dataset.status)"
    return WebDriverWait(d, 30).until(
        lambda d: (s := d.execute_script(read)) and all(x != "pending" for x in s) and s
    )


# --- the page at / -------------------------------------------------------------------------------
d.get(BASE + "/")
wait.until(lambda d: d.find_element(By.ID, "who").text)
check(d.execute_script("return typeof maplibregl") == "object", "MapLibre loads under the CSP")
check("public" in d.find_element(By.ID, "who").text, "without a token the page is the public's")

# --- analyst: sign in, map, queue, decision, incident page, proofs -------------------------------
sign_in(ANALYST)
check(d.execute_script("return location.hash") == "#/queue", "an analyst lands on the queue")
check("analyst" in d.find_element(By.ID, "who").text, "the header names the analyst")
check(d.find_elements(By.CSS_SELECTOR, "a[data-nav=queue]"), "an analyst has the queue")
go("#/map")
total, rendered = map_matches_api(ANALYST, "analyst map")
check(total > 100, f"the analyst's map shows the demo's incidents ({total})")
rendered = WebDriverWait(d, 10).until(lambda d: rendered_points())
check(rendered > 0, f"MapLibre renders the incidents as points and clusters ({rendered} points)")
shot("analyst-map")
# A period of days: the map holds the incidents the API gives for those days in its box.
d.execute_script("document.getElementById('map').dataset.total = ''; delete document.getElementById('map').dataset.total")
d.execute_script(
    "for (const [id, v] of [['period-from', '2015-03-02'], ['period-to', '2015-03-03']]) {"
    "  const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('change')); }"
)
period, _ = map_matches_api(ANALYST, "analyst map, 2–3 March 2015", "&from=2015-03-02T00:00:00Z&to=2015-03-04T00:00:00Z")
check(0 < period < total, f"the period shows fewer incidents ({period} of {total})")
check(not d.find_element(By.ID, "period-now").is_selected(), "a period is not 'now'")
origins, links = fire_matches_api(ANALYST, "analyst map, 2–3 March 2015", "&from=2015-03-02T00:00:00Z&to=2015-03-04T00:00:00Z")
check(origins + links > 0, f"the period has origins of fire or strike–firing links to draw ({origins}, {links})")
# The bearings behind each origin: the list's `bearings` (staff only), each one an observation
# of the incident's evidence chain with that bearing.
given = api_all(f"/api/incidents?bbox={view_bbox()}&from=2015-03-02T00:00:00Z&to=2015-03-04T00:00:00Z", ANALYST)
rays = sum(len(i.get("bearings") or []) for i in given if i.get("origin"))
one = next(i for i in given if i.get("origin") and i.get("bearings"))
chain = {e["seq"]: e for e in api(f"/api/incidents/{one['id']}", ANALYST).get("evidence") or []}
for b in one["bearings"]:
    o = (chain.get(b["seq"]) or {}).get("observation") or {}
    check(((o.get("properties") or {}).get("bearing") or {}).get("azimuth_deg") == b["azimuth_deg"]
          and o["geometry"]["coordinates"][:2] == b["observer"],
          f"bearing {b['seq']} of {one['id']} in the list is its observation's")
drawn_rays = d.execute_script("return document.getElementById('map').dataset.bearings")
check(rays >= 2 and drawn_rays == str(rays), f"the bearings behind the origins are drawn ({drawn_rays} of {rays})")
shot("analyst-map-period")
# The slider moves the period (two days wide) along the days: its end one day earlier.
wait.until(lambda d: d.find_element(By.ID, "period-slider").is_enabled())
# Its steps are the days the role has incidents on (the API's by_day), not every calendar day.
days_with = sorted(k for k, v in api("/api/stats", ANALYST)["by_day"].items() if v > 0)
slider_max = d.find_element(By.ID, "period-slider").get_attribute("max")
check(slider_max == str(len(days_with) - 1), f"the slider steps over the {len(days_with)} days with incidents ({slider_max})")
d.execute_script("document.getElementById('map').dataset.total = ''; delete document.getElementById('map').dataset.total")
d.execute_script(
    "const s = document.getElementById('period-slider'); s.value = String(Number(s.value) - 1);"
    "s.dispatchEvent(new Event('input'));"
)
wait.until(lambda d: d.find_element(By.ID, "period-to").get_attribute("value") == "2015-03-02")
check(d.find_element(By.ID, "period-from").get_attribute("value") == "2015-03-01", "the slider keeps the period's width")
slid, _ = map_matches_api(ANALYST, "analyst map slid to 1–2 March 2015", "&from=2015-03-01T00:00:00Z&to=2015-03-03T00:00:00Z")
check("2015-03-01" in d.find_element(By.ID, "period-says").text, "the period is said in words")
# Task destinations too: the open tasks created in the period.
in_days = [
    k for k in api("/api/tasks", ANALYST)["tasks"]
    if k["state"] != "done" and isinstance(k.get("location"), list) and "2015-03-01" <= k["created_at"][:10] <= "2015-03-02"
]
drawn_tasks = d.execute_script("return document.getElementById('map').dataset.tasks")
check(in_days and drawn_tasks == str(len(in_days)), f"the map marks the {len(in_days)} open tasks created in the period ({drawn_tasks})")
shot("analyst-map-slider")
# The queue holds the period too: each row is one the API gives for those days.
go("#/queue")
wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#queue tbody tr"))
check(d.find_element(By.ID, "period-to").get_attribute("value") == "2015-03-02", "the queue shows the same period")
in_period = set()
for st in ["verification_tasked", "corroborated", "verified", "inconclusive", "not_confirmed", "single_source"]:
    in_period |= {i["id"] for i in api_all(f"/api/incidents?state={st}&from=2015-03-01T00:00:00Z&to=2015-03-03T00:00:00Z", ANALYST)}
rows = d.execute_script("return Array.from(document.querySelectorAll('#queue tbody tr'), (r) => r.dataset.id)")
check(rows and all(r in in_period for r in rows), f"the queue's {len(rows)} rows are the period's")
shot("analyst-queue-period")
# Now: every day again, following the live stream.
d.find_element(By.ID, "period-now").click()
wait.until(lambda d: d.find_element(By.ID, "period-from").get_attribute("value") == "")
go("#/map")
again, _ = map_matches_api(ANALYST, "analyst map, now")
check(again == total, f"'now' shows every day again ({again} of {total})")
# The timeline above the map: the API's own counts per day (or week, or month); a bar, chosen,
# shows its period on the map.
stats = api("/api/stats", ANALYST)
tl_total = wait.until(lambda d: d.execute_script("const t = document.getElementById('timeline'); return t && t.dataset.total"))
check(int(tl_total) == stats["incidents"] == sum(stats["by_day"].values()), f"the timeline counts the API's {stats['incidents']} incidents ({tl_total})")
bars = d.execute_script("return Array.from(document.querySelectorAll('#timeline rect.bin'), (r) => [r.dataset.from, r.dataset.to, Number(r.dataset.count)])")
frm, upto, n = max(bars, key=lambda b: b[2])
check(n == sum(c for day, c in stats["by_day"].items() if frm <= day <= upto), f"the busiest bar ({frm}–{upto}) holds the API's {n} incidents of those days")
d.execute_script("delete document.getElementById('map').dataset.total")
d.execute_script("document.querySelector(`#timeline rect.bin[data-from='${arguments[0]}']`).dispatchEvent(new MouseEvent('click', { bubbles: true }))", frm)
wait.until(lambda d: d.find_element(By.ID, "period-from").get_attribute("value") == frm and d.find_element(By.ID, "period-to").get_attribute("value") == upto)
after = time.strftime("%Y-%m-%d", time.gmtime(time.mktime(time.strptime(upto, "%Y-%m-%d")) - time.timezone + 86400))
picked, _ = map_matches_api(ANALYST, f"analyst map at the timeline's bar {frm}–{upto}", f"&from={frm}T00:00:00Z&to={after}T00:00:00Z")
shot("analyst-map-timeline")
d.execute_script("delete document.getElementById('map').dataset.total")
d.find_element(By.ID, "period-now").click()
wait.until(lambda d: d.find_element(By.ID, "period-from").get_attribute("value") == "")
map_loaded()
# Staff see where open tasks send the teams, as the API lists them.
open_tasks = [k for k in api("/api/tasks", ANALYST)["tasks"] if k["state"] != "done" and isinstance(k.get("location"), list)]
drawn_tasks = wait.until(lambda d: d.execute_script("return document.getElementById('map').dataset.tasks"))
check(drawn_tasks == str(len(open_tasks)) and open_tasks, f"the map marks the {len(open_tasks)} open tasks' places ({drawn_tasks})")
fire_matches_api(ANALYST, "analyst map, now")
# And where each team sets out from, as `GET /api/mission` gives the bases.
teams = api("/api/mission", ANALYST)["teams"]
drawn_bases = wait.until(lambda d: d.execute_script("return document.getElementById('map').dataset.bases"))
labels = d.execute_script("return Array.from(document.querySelectorAll('#map .base-label'), (e) => e.textContent)")
check(teams and drawn_bases == str(len(teams)) and sorted(labels) == sorted(t["id"] for t in teams), f"the map marks the {len(teams)} team bases ({drawn_bases}: {labels})")
# Close to an origin of fire: its ellipse, the bearings behind it, the line to its strike.
origin = next(i for i in api_all("/api/incidents?from=2015-03-02T00:00:00Z&to=2015-03-04T00:00:00Z", ANALYST) if i.get("origin"))
d.execute_script("document.getElementById('map').dataset.total = ''; delete document.getElementById('map').dataset.total")
d.execute_script("window.truceMap.jumpTo({ center: arguments[0], zoom: 11 })", origin["origin"]["point"])
fire_matches_api(ANALYST, f"analyst map at {origin['id']}'s origin")
check(int(d.execute_script("return document.getElementById('map').dataset.bearings")) >= 2, f"{origin['id']}'s bearings are drawn")
shot("analyst-map-origin")
# After the map's checks: axe scrolls elements into view to judge contrast, which must not
# move the map under a count.
axe("analyst-map")

go("#/queue")
wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#queue tbody tr"))
rows = d.find_elements(By.CSS_SELECTOR, "#queue tbody tr")
check(len(rows) > 0, f"the queue lists {len(rows)} incidents")
# Pick an unconcluded incident: publishing it is refused by the server, verifying it is logged.
target = None
for r in rows:
    st = r.find_element(By.CSS_SELECTOR, "[data-state]").get_attribute("data-state")
    if st in ("corroborated", "single_source", "verification_tasked"):
        target = r
        break
check(target is not None, "the queue has an unconcluded incident")
inc = target.get_attribute("data-id")
target.find_element(By.CSS_SELECTOR, "button.act").click()
form = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"form.decide[data-incident='{inc}']"))
Select(form.find_element(By.NAME, "action")).select_by_value("publish")
form.find_element(By.NAME, "reason").send_keys("dashboard test: too early")
form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
out = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "form.decide .result.refused"))
check("only verified" in out.text, f"a refused publish shows the server's reason: {out.text!r}")
shot("analyst-queue-refused")
Select(form.find_element(By.NAME, "action")).select_by_value("verify")
reason = form.find_element(By.NAME, "reason")
reason.clear()
reason.send_keys("dashboard test: two independent reports")
form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
out = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "form.decide .result.logged"))
seq = int(out.get_attribute("data-seq"))
after = api(f"/api/incidents/{inc}", ANALYST)
check(after["state"] == "verified", f"{inc} is verified in the API")
check(
    any(t["entry_seq"] == seq and t["to"] == "verified" for t in after["transitions"]),
    f"the page's log seq {seq} is the API's decision entry",
)
check(str(seq) in out.text, f"the queue shows the decision's log seq: {out.text!r}")
shot("analyst-queue-logged")
axe("analyst-queue-logged")
out.find_element(By.TAG_NAME, "a").click()
state = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "dd[data-field=state] [data-state]"))
check(state.get_attribute("data-state") == "verified", "the incident page shows the new state")
check(any("two independent reports" in t for t in texts("#history td")), "the history shows the reason")
statuses = wait_proofs()
check(statuses and all(s == "verified" for s in statuses), f"every proof verifies in the browser ({len(statuses)}: {set(statuses)})")
check(texts("#evidence tbody td:nth-child(5)") and any(texts("#evidence tbody td:nth-child(5)")), "staff see the sources")
shot("analyst-incident-proofs")
axe("analyst-incident-proofs")

# A tampered entry (the server altering evidence after the fact) fails its proof.
d.execute_script(
    "window.truce.tamper = (doc) => { const b = atob(doc.entry); "
    "doc.entry = btoa(b.slice(0, -2) + (b.slice(-2, -1) === '1' ? '2' : '1') + b.slice(-1)); return doc; }"
)
go("#/map")
go(f"#/incident/{inc}")
statuses = wait_proofs()
check(statuses and all(s == "failed" for s in statuses), f"tampered entries show as failed ({set(statuses)})")
check("✗" in d.find_element(By.CSS_SELECTOR, "td.proof").text, "a failed proof is marked with a cross, not only colour")
shot("analyst-incident-tampered")
d.execute_script("window.truce.tamper = null")
# A checkpoint whose signature was altered fails too, and an untouched one verifies.
doc = api(f"/api/log/proof/{seq}", ANALYST)
good = d.execute_async_script("const done = arguments[1]; window.truce.checkProof(arguments[0]).then(done)", doc)
check(good["inclusion"] and good["signature"]["status"] == "verified", f"the decision's proof verifies: {good}")
note = doc["checkpoint"]
head, sig = note.rsplit(" ", 1)
raw = bytearray(base64.b64decode(sig))
raw[10] ^= 1
doc["checkpoint"] = head + " " + base64.b64encode(bytes(raw)).decode() + "\n"
bad = d.execute_async_script("const done = arguments[1]; window.truce.checkProof(arguments[0]).then(done)", doc)
check(bad["signature"]["status"] == "failed", f"a forged checkpoint signature fails: {bad}")

# Coverage: the grid is the API's table, cell for cell, each with its sign and words.
go("#/coverage")
wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#coverage td.cov"))
table = api("/api/coverage?days=7", ANALYST)
cells = d.execute_script(
    "return Array.from(document.querySelectorAll('#coverage td.cov'), "
    "(e) => [Number(e.dataset.sector), e.dataset.day, e.dataset.status, e.textContent, e.getAttribute('aria-label')])"
)
want = sorted([c["sector"], c["day"], c["status"]] for c in table["cells"])
check(sorted(c[:3] for c in cells) == want, f"the coverage grid is the API's {len(want)} cells ({table['sectors']} sectors × {table['days']} days)")
check(len({c[2] for c in cells}) > 1, f"the grid shows several statuses ({sorted({c[2] for c in cells})})")
check(all(c[3].strip() and c[4] for c in cells), "every coverage cell carries a sign and a spoken label, not only colour")
incidents = {(c["sector"], c["day"]): c["incidents"] for c in table["cells"]}
check(all(c[2] != "incidents" or str(incidents[(c[0], c[1])]) in c[3] for c in cells), "a cell with incidents shows how many")
shot("analyst-coverage")
axe("analyst-coverage")

# Reports: the days the API lists for this role, and a PDF fetched with the token.
go("#/reports")
wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#report-days li"))
listed = api("/api/reports", ANALYST)
days = d.execute_script("return Array.from(document.querySelectorAll('#report-days li'), (e) => e.dataset.day)")
check(days == listed["days"][:60], f"the reports page lists the API's {len(days)} days")
pdf = d.find_element(By.CSS_SELECTOR, f"#report-days a[data-day='{days[0]}'][data-file='report.pdf']")
pdf.click()
wait.until(lambda d: d.execute_script("return arguments[0].dataset.ready", pdf) == "yes")
head = d.execute_script("return [Number(arguments[0].dataset.size), arguments[0].dataset.head]", pdf)
check(head[1] == "%PDF-" and head[0] > 1000, f"the day's PDF arrives with the token ({head[0]} bytes)")
figures = d.execute_script(f"return Array.from(document.querySelectorAll(\"#report-days li[data-day='{days[0]}'] a\"), (e) => e.dataset.file)")
check(figures == ["report.pdf", "report.html", "report.json", "map.png", "chart.png", "chart-by-rule.png", "chart-by-sector.png"], f"every document and figure of the day is offered ({figures})")
shot("analyst-reports")
axe("analyst-reports")

# Live: a decision made elsewhere reaches the open page's alert feed without reload.
go("#/map")
map_loaded()
before = len(d.find_elements(By.CSS_SELECTOR, "#feed li"))
other = next(
    i["id"]
    for i in api("/api/incidents?state=verification_tasked&limit=50", ANALYST)["incidents"]
    if i["id"] != inc
)
t0 = time.time()
api(f"/api/incidents/{other}/decisions", ANALYST, {"action": "verify", "reason": "dashboard live test"})
WebDriverWait(d, 5).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#feed li")) > before)
took = time.time() - t0
check(any(other in t for t in texts("#feed li")), f"the decision on {other} appears live in {took:.2f} s")
check(took < 2.0, f"within 2 s ({took:.2f} s)")
shot("analyst-live")

# --- party: its view only, acknowledge and dispute ------------------------------------------------
sign_out()
sign_in(PARTY)
check(d.execute_script("return location.hash") == "#/map", "a party lands on the map")
check(not d.find_elements(By.CSS_SELECTOR, "a[data-nav=queue]"), "a party has no queue")
total, _ = map_matches_api(PARTY, "party map")
fire_matches_api(PARTY, "party map")
check(d.execute_script("return document.getElementById('map').dataset.tasks") is None, "a party is not shown tasks")
check(d.execute_script("return document.getElementById('map').dataset.bases") is None and not d.find_elements(By.CSS_SELECTOR, "#map .base-label"), "a party is not shown team bases")
check(d.execute_script("return document.getElementById('map').dataset.bearings") is None, "a party is not shown bearings (it is given no observation)")
shot("party-map")
go("#/queue")
shown_view("queue")
check(not d.find_elements(By.ID, "queue"), "the queue is not shown to a party")
check(not d.find_elements(By.CSS_SELECTOR, "a[data-nav=coverage]"), "a party has no coverage view")
go("#/list")
wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#incidents tbody tr"))
listed = api("/api/incidents?limit=100", PARTY)
shown = [r.get_attribute("data-id") for r in d.find_elements(By.CSS_SELECTOR, "#incidents tbody tr")]
check(shown == [i["id"] for i in listed["incidents"]], f"the party's list is the API's ({len(shown)} of {listed['total']})")
check(str(listed["total"]) in d.find_element(By.CSS_SELECTOR, "section.card p[aria-live]").text, "the party's total is the API's")
shot("party-list")
axe("party-list")
# The incident the analyst verified is in RU's view if RU may see it; else the first listed.
rid = listed["incidents"][0]["id"]
go(f"#/incident/{rid}")
wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "form.respond"))
check(not d.find_elements(By.CSS_SELECTOR, "form.decide"), "a party cannot decide")
sources = texts("#evidence tbody td:nth-child(5)")
check(sources and all(s == "" for s in sources), "a party sees no source identities")
statuses = wait_proofs()
check(statuses and all(s in ("verified", "withheld") for s in statuses), f"the party's proofs verify ({set(statuses)})")
# The server withholds the bodies of entries a party may not read (observations name their
# source): their proofs verify the leaf hash, and the page says the content was withheld.
evidence = d.execute_script("return Array.from(document.querySelectorAll('#evidence td.proof'), (e) => e.dataset.status)")
check(evidence and all(s == "withheld" for s in evidence), f"the party's evidence proofs are hash-only ({set(evidence)})")
check("withheld" in texts("#evidence td.proof")[0], "a withheld entry is said to be withheld in words, not only colour")
# The spot report on this incident, made for the party as audience, fetched with its token.
spot = d.find_element(By.CSS_SELECTOR, "p.spot-report a[data-file='report.pdf']")
spot.click()
wait.until(lambda d: d.execute_script("return arguments[0].dataset.ready", spot) == "yes")
head = d.execute_script("return [Number(arguments[0].dataset.size), arguments[0].dataset.head]", spot)
check(head[1] == "%PDF-" and head[0] > 1000, f"the party's spot report on {rid} arrives ({head[0]} bytes)")


def respond(kind, text, attach=None, cite=None):
    """Sends a response from the party's incident page; answers the seq it was logged as, once
    the page has drawn itself again from the server's state and its history shows the text.
    `attach`: a GeoJSON file chosen as evidence; `cite`: entry seqs typed as evidence."""
    drawn = "return Number(document.querySelector('section.incident').dataset.drawn)"
    told = f"#feed li[data-kind=response] a[href='#/incident/{rid}']"
    form = d.find_element(By.CSS_SELECTOR, "form.respond")
    Select(form.find_element(By.NAME, "response")).select_by_value(kind)
    form.find_element(By.NAME, "text").send_keys(text)
    if attach:
        form.find_element(By.ID, "respond-files").send_keys(attach)
    if cite:
        form.find_element(By.ID, "respond-seqs").send_keys(", ".join(str(c) for c in cite))
    before = (logged_seq("form.respond"), d.execute_script(drawn), len(texts(told)))
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    seq = WebDriverWait(d, 10).until(lambda d: (s := logged_seq("form.respond")) != before[0] and s)
    # The page draws itself again after the POST: the new form says what was logged and the
    # history holds the statement, both from one fresh reply.
    WebDriverWait(d, 10).until(
        lambda d: logged_seq("form.respond") == seq
        and d.execute_script("return !document.querySelector('form.respond textarea').value")
        and any(text in t for t in texts("#history td"))
    )
    # The alert the response raises (told to both parties) reaches the page too, and does not
    # draw it again: the page already shows that entry.
    WebDriverWait(d, 5).until(lambda d: len(texts(told)) > before[2])
    check(d.execute_script(drawn) == before[1] + 1, f"the page drew itself once after the {kind}, not again on its alert")
    return seq


# The dispute carries evidence: a GeoJSON file of the party's own observation, posted as an
# allegation by the page, and an entry typed by number (here the incident's first evidence).
def evidence_file(name, kind):
    path = os.path.realpath(os.path.join(SHOTS, name))
    with open(path, "w") as f:
        json.dump({"type": "FeatureCollection", "features": [{
            "type": "Feature", "id": "ru-drone-photo-7",
            "geometry": {"type": "Point", "coordinates": [38.05, 48.31]},
            "properties": {"kind": kind, "observed_at": "2015-03-02T09:30:00Z",
                           "source": {"id": "ru-liaison", "kind": "party", "reliability": "C", "credibility": 3}}}]}, f)
    return path


cited = [int(r["entry_seq"]) for r in api(f"/api/incidents/{rid}", PARTY)["transitions"][:1]]
# A file with a feature the server rejects stops the response: the page names the feature and
# the reason, and no response is logged.
history_before = len(api(f"/api/incidents/{rid}", PARTY)["transitions"])
form = d.find_element(By.CSS_SELECTOR, "form.respond")
form.find_element(By.NAME, "text").send_keys("RU disputes")
form.find_element(By.ID, "respond-files").send_keys(evidence_file("ru-bad-evidence.geojson", "sighting"))
form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
WebDriverWait(d, 10).until(lambda d: "feature 0" in d.find_element(By.CSS_SELECTOR, "form.respond output").text)
said = d.find_element(By.CSS_SELECTOR, "form.respond output").text
check("sighting" in said and "refused" in d.find_element(By.CSS_SELECTOR, "form.respond output").get_attribute("class"),
      f"a rejected evidence file stops the response with the server's reason ({said[:90]}…)")
check(len(api(f"/api/incidents/{rid}", PARTY)["transitions"]) == history_before, "and no response is logged")
shot("party-evidence-refused")
form.find_element(By.NAME, "text").clear()
form.find_element(By.ID, "respond-files").clear()
attach = evidence_file("ru-counter-evidence.geojson", "impact")
rseq = respond("dispute", "RU disputes: no firing from this position", attach=attach, cite=cited)
# The logged response (the party may read its own) names both: the entry typed, and the
# allegation the page posted from the file — an observation of the party's (staff read it).
entry = json.loads(base64.b64decode(api(f"/api/log/proof/{rseq}", PARTY)["entry"]))
evidence = entry.get("evidence") or []
check(len(evidence) == 2 and cited[0] in evidence, f"the dispute cites the typed entry and the file ({evidence})")
posted = [e for e in evidence if e not in cited]
alleged = json.loads(base64.b64decode(api(f"/api/log/proof/{posted[0]}", ANALYST)["entry"])) if posted else {}
check(alleged.get("id") == "ru-drone-photo-7" and alleged["properties"]["source"].get("party") == "RU",
      f"the attached file became the party's allegation, entry {posted}")
check(any("counter-evidence" in t for t in texts("#history td")), "the history says the dispute carries counter-evidence")
seen = api(f"/api/incidents/{rid}", ANALYST)
check(any(t["entry_seq"] == rseq and t["action"] == "dispute" for t in seen["transitions"]),
      f"the dispute (entry {rseq}) is in the incident's history for the analyst")
check(any("no firing from this position" in t for t in texts("#history td")), "the dispute shows in the party's history")
# A response is the party's to read: its proof verifies with the entry's bytes.
wait_proofs()
dispute_proof = d.execute_script(f"return document.querySelector('#history td.proof[data-seq=\"{rseq}\"]').dataset.status")
check(dispute_proof == "verified", f"the party's own dispute proves with its bytes ({dispute_proof})")
shot("party-incident-disputed")
axe("party-incident-disputed")
aseq = respond("acknowledge", "RU acknowledges receipt")
check(aseq > rseq, f"an acknowledgement is logged too (entry {aseq})")

# --- team: its tasks with the place, what to verify and how to answer --------------------------------
sign_out()
sign_in(TEAM)
check(d.execute_script("return location.hash") == "#/tasks", "a team lands on its tasks")
check(not d.find_elements(By.CSS_SELECTOR, "a[data-nav=queue], a[data-nav=coverage]"), "a team has no queue and no coverage")
wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#tasks tbody tr"))
mine = api("/api/tasks", TEAM)["tasks"]
rows = d.execute_script("return Array.from(document.querySelectorAll('#tasks tbody tr'), (r) => r.dataset.task)")
check(rows == [k["id"] for k in mine] and rows, f"the team's tasks are the API's ({rows})")
check("team-1" in d.find_element(By.ID, "team-help").text and "outcome" in d.find_element(By.ID, "team-help").text,
      "the team is told how to answer, here or from its TAK device")
check(not d.find_elements(By.CSS_SELECTOR, "#tasks a[href^='#/incident/']"), "a team is not sent to incident pages it may not read")
check(not d.execute_script("return getComputedStyle(document.querySelector('aside')).display !== 'none'"),
      "a team, which gets no alerts, has no alerts column")
shot("team-tasks")
axe("team-tasks")
task = mine[0]
form = d.find_element(By.CSS_SELECTOR, f"form.outcome[data-task='{task['id']}']")
Select(form.find_element(By.NAME, "outcome")).select_by_value("inconclusive")
form.find_element(By.NAME, "remarks").send_keys("dashboard test: nothing to see from the road")
form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
# The answer is said above the list, which is drawn again without the task.
oseq = WebDriverWait(d, 10).until(
    lambda d: d.execute_script(
        "const e = document.querySelector('#answered.logged'); return e && e.dataset.task === arguments[0] && Number(e.dataset.seq)",
        task["id"],
    )
)
told = api(f"/api/incidents/{task['incident']}", ANALYST)
check(any(t["entry_seq"] == oseq and t["action"] == "outcome" for t in told["transitions"]),
      f"the team's answer (entry {oseq}) is the incident's outcome step for the analyst")
WebDriverWait(d, 10).until(
    lambda d: task["id"] not in d.execute_script("return Array.from(document.querySelectorAll('#tasks tbody tr'), (r) => r.dataset.task)")
)
check(True, "the answered task leaves the team's list")
shot("team-answered")

# --- public: published incidents only, no sources ---------------------------------------------------
sign_out()
check("public" in d.find_element(By.ID, "who").text, "signed out, the page is the public's")
go("#/list")
wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#incidents tbody tr"))
public = api("/api/incidents?limit=100")
shown = [r.get_attribute("data-id") for r in d.find_elements(By.CSS_SELECTOR, "#incidents tbody tr")]
check(shown == [i["id"] for i in public["incidents"]], f"the public list is the API's ({shown})")
check(PUBLISHED in shown, f"the published incident {PUBLISHED} is listed")
states = [e.get_attribute("data-state") for e in d.find_elements(By.CSS_SELECTOR, "#incidents [data-state]")]
check(states and all(s == "published" for s in states), "the public sees published incidents only")
shot("public-list")
go("#/map")
total, _ = map_matches_api(None, "public map")
legend = d.find_element(By.CSS_SELECTOR, ".legend").text
check("storage site" in legend, "the legend names the storage sites (squares, not taken for incidents)")
check(total <= public["total"], "the public map holds no more than the published incidents")
shot("public-map")
axe("public-map")
go(f"#/incident/{PUBLISHED}")
wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "dd[data-field=state]"))
check(not d.find_elements(By.ID, "evidence"), "the public sees no evidence chain (no sources)")
check(not d.find_elements(By.ID, "history") and "No steps" not in d.find_element(By.ID, "main").text,
      "the public is given no history, and is not told there was none")
check(not d.execute_script("return getComputedStyle(document.querySelector('aside')).display !== 'none'"),
      "the public, which gets no alerts, has no alerts column")
check(not d.find_elements(By.CSS_SELECTOR, "form.decide, form.respond"), "the public can neither decide nor respond")
shot("public-incident")
axe("public-incident")
go(f"#/incident/{other}")
err = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "section.incident .error"))
check("404" in err.text, f"an unpublished incident is not found for the public: {err.text!r}")

# --- a revoked token ------------------------------------------------------------------------------
# A liaison officer's page follows the alert stream; the mission revokes the token: the page stops
# following, says why and returns to sign-in as the public.
sign_in(REVOCABLE)
go("#/map")
map_loaded()
wait.until(lambda d: d.find_element(By.ID, "live").get_attribute("data-up") == "yes")
subprocess.run([TRUCE, "token", "revoke", "--db", STORE, REVOCABLE_ID], check=True, capture_output=True)
t0 = time.time()
WebDriverWait(d, 15).until(lambda d: d.execute_script("return location.hash") == "#/login")
took = time.time() - t0
note = d.find_element(By.ID, "notice").text
check("revoked" in note, f"the page says the token was revoked ({note!r}, {took:.1f} s after revoking)")
check(d.execute_script("return sessionStorage.getItem('truce.token')") is None, "the revoked token is forgotten")
check(d.execute_script("return document.body.dataset.role") == "public", "the page is the public's again")
check(not d.find_element(By.ID, "live").is_displayed(), "no live stream is followed")
shot("party-revoked")

# --- languages ----------------------------------------------------------------------------------
Select(d.find_element(By.ID, "lang")).select_by_value("uk")
nav = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "a[data-nav=map]"))
check(nav.text == "Мапа", f"in Ukrainian the map is 'Мапа' ({nav.text!r})")
check(d.execute_script("return document.documentElement.lang") == "uk", "the page's lang is uk")
go("#/list")
wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#incidents tbody tr"))
check("оприлюднено" in d.find_element(By.ID, "incidents").text, "states are in Ukrainian")
shot("public-list-uk")
axe("public-list-uk")
d.refresh()
nav = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "a[data-nav=map]"))
check(nav.text == "Мапа", "the language is remembered after a reload")
# Every view in every language: no label missing.
sign_in(ANALYST)
for lang in ["uk", "ru", "en"]:
    d.execute_script("localStorage.setItem('truce.lang', arguments[0])", lang)
    # Each view is waited for until drawn from the API's answer, so its every label is asked for.
    go("#/map")
    map_loaded()
    go("#/queue")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#queue tbody tr"))
    go("#/tasks")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#tasks tbody tr"))
    go("#/coverage")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#coverage td.cov"))
    go(f"#/incident/{inc}")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "section.incident[data-drawn]"))
    wait_proofs()
    if lang == "ru":
        shot("analyst-incident-ru")
    go("#/login")
    wait.until(lambda d: d.find_elements(By.ID, "token"))
missing = d.execute_script("return Array.from(window.truceI18nMissing)")
check(missing == [], f"every label exists in en, uk and ru (missing: {missing})")
keys = d.execute_script("const D = window.truceI18n; return [Object.keys(D.en).length, Object.keys(D.uk).length, Object.keys(D.ru).length]")
check(keys[0] == keys[1] == keys[2], f"the dictionaries have the same keys {keys}")
errors = [e for e in d.get_log("browser") if e.get("level") == "SEVERE" and "Content Security Policy" in e.get("message", "")]
check(not errors, f"no Content-Security-Policy violation ({errors})")
d.quit()
print("drive.py: all checks passed")
