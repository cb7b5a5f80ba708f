-- post: valid messages of the eight types, in rotation.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local b = {
   '{"from":"FROM","type":"text","text":"Hello from the benchmark: the quick brown fox jumps over the lazy dog."}',
   '{"from":"FROM","type":"picture","text":"A photo","media":"https://www.example.org/photos/1.jpg","thumbnail":"https://www.example.org/thumbs/1.jpg"}',
   '{"from":"FROM","type":"video","media":"https://www.example.org/video.mp4","size":10000,"duration":10,"thumbnail":"https://www.example.org/thumbs/v.jpg"}',
   '{"from":"FROM","type":"file","media":"https://www.example.org/report.pdf","size":10000,"file_name":"report.pdf"}',
   '{"from":"FROM","type":"contact","contact":{"name":"Itamar","phone_number":"+972511123123"}}',
   '{"from":"FROM","type":"location","location":{"lat":"37.7898","lon":"-122.3942"}}',
   '{"from":"FROM","type":"url","media":"https://www.viber.com","text":"Viber"}',
   '{"from":"FROM","type":"sticker","sticker_id":46105}',
}
for k, v in ipairs(b) do b[k] = bench.from_json(v) end
bench.rotate("/pa/post", b)
