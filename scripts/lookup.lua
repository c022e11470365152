-- wrk script: GET /api/v1/lookup for points read from the file named by the POINTS env var
-- (one "lon,lat" per line), cycling through them. Used by scripts/bench-http.sh.
local paths = {}
local i = 0

function init(args)
  local f = assert(io.open(os.getenv("POINTS") or "points.csv", "r"))
  for line in f:lines() do
    local lon, lat = line:match("^([^,]+),([^,]+)$")
    if lon then
      paths[#paths + 1] = "/api/v1/lookup?lon=" .. lon .. "&lat=" .. lat
    end
  end
  f:close()
  -- threads start at different offsets so they do not ask the same points in lockstep
  i = math.random(#paths)
end

function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.3f rps=%.0f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
