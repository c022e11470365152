-- wrk script of benchcmp (embedded in it; usable alone):
--   POINTS=points.csv WRK_THREADS=2 wrk -t2 -c2 -d10s -s lookup.lua http://127.0.0.1:8080
-- GETs /api/v1/lookup?lon=&lat= for the points of the file named by POINTS (one "lon,lat" a
-- line), cycling through them; thread k of WRK_THREADS starts k/WRK_THREADS of the way in, so
-- the threads do not ask the same points in lockstep. With PATHS instead of POINTS it GETs
-- the paths of that file (one a line); with neither, WRK_PATH (default /healthz). done()
-- prints one RESULT line that benchcmp parses.
local paths = {}
local i = 0
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("thread_id", nthreads)
end

function init(args)
  local file = os.getenv("POINTS")
  if file and file ~= "" then
    local f = assert(io.open(file, "r"))
    for line in f:lines() do
      local lon, lat = line:match("^([^,]+),([^,]+)$")
      if lon then
        paths[#paths + 1] = "/api/v1/lookup?lon=" .. lon .. "&lat=" .. lat
      end
    end
    f:close()
  elseif os.getenv("PATHS") and os.getenv("PATHS") ~= "" then
    local f = assert(io.open(os.getenv("PATHS"), "r"))
    for line in f:lines() do
      if line ~= "" then paths[#paths + 1] = line end
    end
    f:close()
  else
    paths[1] = os.getenv("WRK_PATH") or "/healthz"
  end
  -- Format every request once: wrk.format per request would cost the load generator more
  -- CPU than the server spends answering.
  for k = 1, #paths do
    paths[k] = wrk.format("GET", paths[k])
  end
  local n = tonumber(os.getenv("WRK_THREADS") or "1")
  i = math.floor(((thread_id or 1) - 1) * #paths / n)
end

function request()
  i = i + 1
  if i > #paths then i = 1 end
  return paths[i]
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_s=%.6f p50_us=%d p90_us=%d p99_us=%d errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
