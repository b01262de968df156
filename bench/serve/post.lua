-- wrk script: POST batches of distinct observations to /api/observations.
-- BATCH features per request, ids unique across threads and requests.
--   default: a dense feed — hotspots 110 m apart in rows 120 m apart, a second apart within
--     the hour (incidents of hundreds to thousands of members);
--   DISTINCT=1: the same, each wrk thread in its own area (0.55° apart) — without it the
--     threads post the same places and times, so half of what is posted is duplicates;
--   SPREAD=1: points scattered over 3° x 2° and 28 days (about one incident per observation).
local BATCH = tonumber(os.getenv("BATCH") or "1000")
local DISTINCT = os.getenv("DISTINCT") == "1"
local SPREAD = os.getenv("SPREAD") == "1"
local counter = 0
local threads = 0

-- Each thread's number is a global of its own Lua state (a file-level local would be 0 in
-- every thread: each loads this script afresh).
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function init(args)
  math.randomseed((thread_id or 0) * 7919 + 1)
end

request = function()
  counter = counter + 1
  local parts = {}
  for i = 1, BATCH do
    local n = counter * BATCH + i
    if DISTINCT then n = n + thread_id * 500000 end
    local lon = 37.5 + (n % 1000) * 0.0015
    local lat = 47.6 + math.floor(n / 1000) % 1000 * 0.0011
    local day, hour, min, sec = 5, 10, math.floor(n / 60) % 60, n % 60
    if SPREAD then
      lon, lat = 37.0 + math.random() * 3.0, 47.0 + math.random() * 2.0
      local s = math.random(0, 28 * 86400 - 1)
      day, hour, min, sec = 1 + math.floor(s / 86400), math.floor(s / 3600) % 24, math.floor(s / 60) % 60, s % 60
    end
    parts[i] = string.format(
      '{"type":"Feature","id":"wrk-%d-%d","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},"properties":{"kind":"thermal_anomaly","observed_at":"2015-03-%02dT%02d:%02d:%02dZ","source":{"id":"viirs","kind":"satellite","reliability":"B","credibility":3},"error_radius_m":375}}',
      thread_id, n, lon, lat, day, hour, min, sec)
  end
  local body = '{"type":"FeatureCollection","features":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/api/observations", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
