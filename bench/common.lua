-- Shared by the wrk scripts (loaded with dofile): the channel's token and
-- superadmin id from the environment, request helpers, and a done() that
-- prints one machine-readable line for bench/run to collect.

bench = {}
bench.token = os.getenv("VCP_TOKEN") or "no-token"
bench.from = os.getenv("VCP_FROM") or "no-member"

wrk.method = "POST"
wrk.headers["X-Viber-Auth-Token"] = bench.token
wrk.headers["Content-Type"] = "application/json"

-- Turns a list of bodies into pre-formatted requests served in rotation,
-- so that rotating costs wrk nothing per request.
function bench.rotate(path, bodies)
   local reqs, i = {}, 0
   init = function(args)
      for k, b in ipairs(bodies) do
         reqs[k] = wrk.format("POST", path, nil, b)
      end
   end
   request = function()
      i = i % #reqs + 1
      return reqs[i]
   end
end

function bench.from_json(s)
   return (s:gsub("FROM", bench.from))
end

done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCHRESULT requests=%d duration_us=%d p50_us=%d p99_us=%d " ..
      "connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.duration, latency:percentile(50),
      latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
