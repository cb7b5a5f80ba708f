-- post: post_text to the channel of the 10-million-post database (bench/run's
-- growth rows), whose token and sender bench/run exports as BIGDB_*.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.path = "/pa/post"
wrk.headers["X-Viber-Auth-Token"] = os.getenv("BIGDB_TOKEN")
wrk.body = '{"from":"' .. os.getenv("BIGDB_FROM") .. '","type":"text","text":' ..
   '"Hello from the benchmark: the quick brown fox jumps over the lazy dog."}'
