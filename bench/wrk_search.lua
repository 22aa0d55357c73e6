-- wrk script: cycles through the Home Depot TEST queries (query_id % 5 == 0) as search
-- requests, so wrk cross-checks `shelfwatch bench` on the same workload.
-- usage: wrk -t1 -c16 -d10s -s bench/wrk_search.lua http://127.0.0.1:8080 -- QUERIES.csv [catalog]
local paths = {}
local counter = 0

local function urlencode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- Minimal CSV split of "id,query" where query may be quoted with "" escapes.
local function parse(line)
  local id, rest = line:match("^(%d+),(.*)$")
  if not id then return nil end
  if rest:sub(1, 1) == '"' then rest = rest:sub(2, -2):gsub('""', '"') end
  return tonumber(id), rest
end

function init(args)
  local file = args[1] or "../shared/data/homedepot/queries.csv"
  local catalog = args[2] or "homedepot"
  for line in io.lines(file) do
    line = line:gsub("\r$", "")
    local id, q = parse(line)
    if id and id % 5 == 0 and #q > 0 then
      paths[#paths + 1] = "/v1/catalogs/" .. catalog .. "/search?q=" .. urlencode(q) .. "&k=10"
    end
  end
  counter = math.random(#paths)
end

function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter])
end

function done(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %.0f req/s, p50 %.3f ms, p99 %.3f ms, max %.3f ms, errors %d (status %d)\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
