-- wrk script: POST batches of distinct observations to /api/observations.
-- BATCH features per request, ids unique across threads and requests.
local BATCH = tonumber(os.getenv("BATCH") or "1000")
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  math.randomseed(thread_id * 7919 + 1)
end

request = function()
  counter = counter + 1
  local parts = {}
  for i = 1, BATCH do
    local n = counter * BATCH + i
    local lon = 37.5 + (n % 1000) * 0.0015
    local lat = 47.6 + math.floor(n / 1000) % 1000 * 0.0011
    parts[i] = string.format(
      '{"type":"Feature","id":"wrk-%d-%d","geometry":{"type":"Point","coordinates":[%.6f,%.6f]},"properties":{"kind":"thermal_anomaly","observed_at":"2015-03-05T10:%02d:%02dZ","source":{"id":"viirs","kind":"satellite","reliability":"B","credibility":3},"error_radius_m":375}}',
      thread_id, n, lon, lat, math.floor(n / 60) % 60, n % 60)
  end
  local body = '{"type":"FeatureCollection","features":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/api/observations", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("TOKEN")}, body)
end
