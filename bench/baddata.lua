-- post: messages that fail validation with 3 badData, in rotation (each
-- passes the token, channel, webhook and superadmin steps first).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local b = {
   '{"from":"FROM","type":"video","media":"https://www.example.org/video.mp4","size":1.5}',
   '{"from":"FROM","type":"location","location":{"lat":91,"lon":0}}',
   '{"from":"FROM","type":"file","media":"https://www.example.org/setup.exe","size":100,"file_name":"setup.exe"}',
   '{"from":"FROM","type":"foo","text":"unknown type"}',
   '{"from":"FROM","type":"contact","contact":{"name":"A name longer than twenty-eight","phone_number":"1"}}',
   '{"from":"FROM","type":"picture","text":"","media":"https://www.example.org/photo.png"}',
}
for k, v in ipairs(b) do b[k] = bench.from_json(v) end
bench.rotate("/pa/post", b)
