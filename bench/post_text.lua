-- post: one text message, the same body every time (wrk's static request).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.path = "/pa/post"
wrk.body = bench.from_json(
   '{"from":"FROM","type":"text","text":"Hello from the benchmark: the quick brown fox jumps over the lazy dog."}')
