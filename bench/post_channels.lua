-- post: one text message to each of many channels in rotation (bench/run's
-- growth rows): BENCH_CHANNELS names a file of "TOKEN SUPERADMIN_ID" lines,
-- one per channel (bench/client.py channels writes it).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local reqs, i = {}, 0
init = function(args)
   for line in io.lines(os.getenv("BENCH_CHANNELS")) do
      local token, from = line:match("^(%S+) (%S+)$")
      if token then
         reqs[#reqs + 1] = wrk.format("POST", "/pa/post",
            {["X-Viber-Auth-Token"] = token, ["Content-Type"] = "application/json"},
            '{"from":"' .. from .. '","type":"text","text":"Hello from the benchmark: ' ..
            'the quick brown fox jumps over the lazy dog."}')
      end
   end
   -- each wrk thread starts at its own place in the rotation
   i = math.random(#reqs) - 1
end
request = function()
   i = i % #reqs + 1
   return reqs[i]
end
