-- get_account_info: token in the header, empty JSON object as the body.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.path = "/pa/get_account_info"
wrk.body = "{}"
