// Viber's official Node.js SDK, viber-bot 1.0.18 from npm, driven against a
// real vcpd over real sockets, as a developer would point it at vcpd instead
// of https://chatapi.viber.com/pa:
//   - its webhook receiver is the SDK's own bot.middleware(), served over
//     HTTPS with a certificate from a CA made for this run (openssl CLI) that
//     vcpd is given with --webhook-ca: setWebhook succeeds only when the
//     SDK accepts vcpd's signed callback (it reads the `sig` query parameter);
//   - setWebhook (success, refused URL, a receiver that does not accept the
//     signature, removal), getBotProfile (get_account_info),
//     postToPublicChat with every message type the SDK has for a channel,
//     with the sender it sends, and its error paths (webhook not set, bad
//     token, missing field, over a limit, not a superadmin, blocked
//     channel, rate limit);
//   - every post the SDK calls a success is read back from vcpd's read API.
//
// The SDK has no option or environment variable for its API URL: it is the
// module constant API_URL, handed to the bot's ViberClient at construction.
// This test sets that client's URL field (bot._client._url) -- one field of
// one bot, nothing patched globally -- after checking that it holds the
// constant, so that an SDK which moved it fails here loudly.
//
// Usage: node sdk.test.mjs VCPD NODE_MODULES
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

const [vcpd, nodeModules] = process.argv.slice(2);
// run.sh checks both too; here for a run without it
if (Number(process.versions.node.split(".")[0]) < 18) {
  console.log("FAIL node " + process.version + " is older than 18 (this test needs global fetch)");
  process.exit(1);
}
const require = createRequire(path.join(path.resolve(nodeModules), "x.js"));
// What this test expects of the SDK (its payloads, bot._client._url) is
// viber-bot 1.0.18's: another version fails here, not halfway (run.sh pins it).
const SDK_PIN = "1.0.18";
const SDK_VERSION = require("viber-bot/package.json").version;
if (SDK_VERSION !== SDK_PIN) {
  console.log("FAIL viber-bot " + SDK_VERSION + " in " + nodeModules + ", not " + SDK_PIN);
  process.exit(1);
}
const ViberBot = require("viber-bot");
const express = require("express"); // a dependency of viber-bot
const M = ViberBot.Message;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vcp-sdk-"));
const db = path.join(dir, "vcpd.db");
const portFile = path.join(dir, "port");
const EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed",
  "conversation_started"];
let passed = 0, failed = 0;
const failures = [];

function check(name, cond, detail) {
  if (cond) { passed++; console.log("ok   " + name); }
  else {
    failed++; failures.push(name);
    console.log("FAIL " + name + (detail !== undefined ? ": " + detail : ""));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cli = (...args) =>
  JSON.parse(execFileSync(vcpd, [...args, "--db", db, "--json"], { encoding: "utf8" }));
const p = (name) => path.join(dir, name);
const openssl = (...args) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
const show = (v) => (v instanceof Error ? v.stack : JSON.stringify(v));

// A CA for this run and a server certificate it signs for 127.0.0.1, as
// tests/e2e/vcptest.py make_ca() makes them.
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
openssl("req", "-x509", ...EC, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2",
  "-sha256", "-subj", "/O=vcp sdk test/CN=vcp sdk test CA",
  "-addext", "basicConstraints=critical,CA:TRUE",
  "-addext", "keyUsage=critical,keyCertSign,cRLSign");
fs.writeFileSync(p("server.ext"), "basicConstraints=critical,CA:FALSE\n" +
  "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n" +
  "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
openssl("req", "-new", ...EC, "-keyout", p("server.key"), "-out", p("server.csr"),
  "-subj", "/O=vcp sdk test/CN=127.0.0.1");
openssl("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
  "-set_serial", String(Date.now()), "-days", "2", "-sha256", "-extfile", p("server.ext"),
  "-out", p("server.pem"));
const tlsOpts = { key: fs.readFileSync(p("server.key")), cert: fs.readFileSync(p("server.pem")) };

// The channel with a second member (an admin, not a superadmin), a channel
// that will be blocked, and one allowed a single request a minute.
const ch = cli("channel", "create", "--name", "SDK news", "--superadmin", "Alice",
  "--rate", "off");
const admin = cli("member", "add", ch.channel.id, "--name", "Bob", "--role", "admin").member;
const blocked = cli("channel", "create", "--name", "Blocked", "--rate", "off",
  "--webhook", "https://127.0.0.1:9/unused");
execFileSync(vcpd, ["channel", "block", blocked.channel.id, "--db", db]);
const limited = cli("channel", "create", "--name", "Limited", "--rate", "1/60",
  "--webhook", "https://127.0.0.1:9/unused");

// --sandbox: the receiver is on loopback (the SSRF guard would refuse it);
// TLS verification stays strict, against the run's CA. The webhook timeout
// leaves the successful callbacks room on a loaded machine or a sanitizer
// build; the receiver that never answers costs it once.
const WEBHOOK_TIMEOUT_MS = 5000;
const servers = [];
const server = spawn(vcpd, ["serve", "--listen", "127.0.0.1:0", "--port-file", portFile,
  "--db", db, "--sandbox", "--webhook-ca", p("ca.pem"),
  "--webhook-timeout", String(WEBHOOK_TIMEOUT_MS),
  "--access-log", p("access.log")], { stdio: ["ignore", "inherit", "inherit"] });
const vcpdExited = () => server.exitCode !== null || server.signalCode !== null;
const vcpdStatus = () => (server.signalCode !== null ? "signal " + server.signalCode
  : "status " + server.exitCode);

// vcpd shares ctest's stdout: while it runs, ctest waits for it until the
// test's timeout. So no way out of this script leaves it running: a throw
// anywhere below (a fetch that rejects, JSON.parse of an error page, a field
// that is not there) is a failure that goes through finish(), and whatever
// still ends node without finish() kills vcpd on the way out.
process.on("exit", () => { if (!vcpdExited()) server.kill("SIGKILL"); });
const uncaught = (e) => { console.log("FAIL uncaught: " + show(e)); finish(1); };
process.on("uncaughtException", uncaught);
process.on("unhandledRejection", uncaught);

// Stops vcpd and ends node with code, or 1 if vcpd did not stop cleanly: as
// tests/e2e/vcptest.py's stop_checked(), vcpd must still be running (an
// earlier exit is a crash) and exit 0 on SIGTERM; SIGKILL after 5 s.
let finishing = null;
async function finish(code) {
  if (finishing) { finishing.code = 1; return; } // a throw while finishing
  finishing = { code };
  for (const s of servers) s.close();
  if (vcpdExited()) {
    console.log("FAIL vcpd exited before the end: " + vcpdStatus());
    finishing.code = 1;
  } else {
    const exit = new Promise((r) => server.once("exit", r));
    server.kill("SIGTERM");
    let timer;
    await Promise.race([exit, new Promise((r) => { timer = setTimeout(r, 5000); })]);
    clearTimeout(timer);
    if (!vcpdExited()) {
      console.log("FAIL vcpd still running 5 s after SIGTERM: SIGKILL");
      server.kill("SIGKILL");
      await exit;
      finishing.code = 1;
    } else if (server.exitCode !== 0) {
      console.log("FAIL vcpd exited with " + vcpdStatus() + " on SIGTERM");
      finishing.code = 1;
    }
  }
  if (finishing.code === 0) fs.rmSync(dir, { recursive: true, force: true });
  else console.log("kept " + dir + " (vcpd's access log: access.log)");
  process.exit(finishing.code);
}

let port = 0;
for (let i = 0; i < 500 && !port && !vcpdExited(); i++) {
  await sleep(20);
  try { port = Number(fs.readFileSync(portFile, "utf8").trim()); } catch (e) { /* not yet */ }
}
if (!port) { console.log("FAIL vcpd did not start"); await finish(1); }
const base = "http://127.0.0.1:" + port;

function bot(token) {
  const b = new ViberBot.Bot({ authToken: token, name: "SDK bot",
    avatar: "https://example.com/bot.jpg" });
  if (b._client._url !== "https://chatapi.viber.com/pa") {
    throw new Error("viber-bot " + SDK_VERSION + " keeps its API URL elsewhere: " +
      "bot._client._url is " + show(b._client._url));
  }
  b._client._url = base + "/pa";
  return b;
}

// Serves app (the SDK's middleware, or an express app mounting it) over
// HTTPS on 127.0.0.1:0, recording every request's URL and signature header
// before the SDK sees it.
async function receiver(app) {
  const seen = [];
  const srv = https.createServer(tlsOpts, (req, res) => {
    seen.push({ url: req.url, sigHeader: req.headers["x-viber-content-signature"] });
    app(req, res);
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  servers.push(srv);
  return { seen, url: "https://127.0.0.1:" + srv.address().port };
}

// The SDK's promise: {ok, value} or {ok: false, error}; a promise still
// pending after ms is a failure of its own ("hung"). A setWebhook is answered
// within vcpd's webhook timeout: the default waits that long and 5 s more.
async function settle(promise, ms = WEBHOOK_TIMEOUT_MS + 5000) {
  let timer;
  const hung = new Promise((r) => { timer = setTimeout(() => r({ hung: true }), ms); });
  const r = await Promise.race([
    promise.then((value) => ({ ok: true, value }), (error) => ({ ok: false, error })), hung]);
  clearTimeout(timer);
  return r;
}

// An API refusal as the SDK hands it over: it rejects with vcpd's answer.
function checkRefused(name, r, status, message, detailHas) {
  const e = r.error || {};
  check(name, !r.ok && !r.hung && e.status === status && e.status_message === message &&
    (!detailHas || String(e.detail).includes(detailHas)), show(r));
}

async function postsOf(id) {
  const res = await fetch(base + "/api/v1/channels/" + encodeURIComponent(id) + "/posts?limit=50");
  const text = await res.text();
  const js = JSON.parse(text);
  // message_token is a 63-bit integer: read it from the text, not a double
  const tokens = [...text.matchAll(/"message_token":(\d+)/g)].map((m) => m[1]);
  js.posts.forEach((post, i) => { post.token = tokens[i]; });
  return js.posts;
}

const sdk = bot(ch.token);
const sender = { id: ch.superadmin.id, name: "Alice", avatar: "https://example.com/alice.jpg" };

// ---- before any webhook: the SDK sees 10 webhookNotSet ---------------------
checkRefused("post before set_webhook: 10 webhookNotSet",
  await settle(sdk.postToPublicChat(sender, new M.Text("too early"))), 10, "webhookNotSet");

// ---- setWebhook to the SDK's own middleware -------------------------------
const events = [];
sdk.on("webhook", (e) => events.push(e));
const root = await receiver(sdk.middleware());
let r = await settle(sdk.setWebhook(root.url + "/"));
check("setWebhook to the SDK's middleware: 0 ok with the seed's event_types",
  r.ok && r.value.status === 0 && r.value.status_message === "ok" &&
  JSON.stringify(r.value.event_types) === JSON.stringify(EVENT_TYPES), show(r));
check("the SDK accepted the callback and emitted one 'webhook' event",
  events.length === 1 && events[0].event === "webhook", show(events));
const ev = events[0] || {};
check("callback: timestamp (ms) and message_token as the seed has them",
  Number.isInteger(ev.timestamp) && Math.abs(ev.timestamp - Date.now()) < 60000 &&
  /^[1-9][0-9]*$/.test(String(ev.message_token)), show(ev));
const cb = root.seen[0] || { url: "" };
const sigQuery = new URL(cb.url, root.url).searchParams.get("sig");
check("callback carries the signature as ?sig= (what the SDK reads) and as the header",
  root.seen.length === 1 && /^[0-9a-f]{64}$/.test(sigQuery || "") &&
  cb.sigHeader === sigQuery, show(root.seen));

// The SDK's documented way: its middleware mounted on a path of an express app.
const mountedEvents = [];
const mountedBot = bot(ch.token);
mountedBot.on("webhook", (e) => mountedEvents.push(e));
const app = express();
app.use("/viber/webhook", mountedBot.middleware());
const mounted = await receiver(app);
r = await settle(mountedBot.setWebhook(mounted.url + "/viber/webhook", false));
check("setWebhook to the middleware mounted at /viber/webhook (is_inline sent): 0",
  r.ok && r.value.status === 0 && mountedEvents.length === 1 &&
  mounted.seen[0] && mounted.seen[0].url.startsWith("/viber/webhook?sig="),
  show(r) + " " + show(mounted.seen));

// A receiver with another token: the SDK drops the callback unanswered (its
// signature check fails), so vcpd's check times out -- 1 invalidUrl.
const strangerEvents = [];
const stranger = bot("another-token-0123456789abcdef");
stranger.on("webhook", (e) => strangerEvents.push(e));
const wrong = await receiver(stranger.middleware());
r = await settle(sdk.setWebhook(wrong.url + "/"));
checkRefused("setWebhook to a receiver that refuses the signature: 1 invalidUrl",
  r, 1, "invalidUrl", "timed out");
check("... which got the callback and refused it", wrong.seen.length === 1 &&
  strangerEvents.length === 0, show(wrong.seen));
checkRefused("setWebhook with a URL that is not http(s): 1 invalidUrl",
  await settle(sdk.setWebhook("ftp://127.0.0.1/hook")), 1, "invalidUrl", "url:");

// a failed check keeps the webhook that was set; set it back to the root one
r = await settle(sdk.setWebhook(root.url + "/"));
check("setWebhook back to the root receiver: 0", r.ok && r.value.status === 0, show(r));

// ---- getBotProfile: get_account_info ---------------------------------------
r = await settle(sdk.getBotProfile());
const acct = r.value || {};
check("getBotProfile: 0 ok", r.ok && acct.status === 0 && acct.status_message === "ok", show(r));
check("getBotProfile: id and Id are the channel's pa: id",
  acct.id === ch.channel.id && acct.Id === ch.channel.id && /^pa:[0-9]+$/.test(acct.id), show(acct));
check("getBotProfile: name, chat_hostname, webhook, event_types, subscribers_count",
  acct.name === "SDK news" && typeof acct.chat_hostname === "string" &&
  acct.webhook === root.url + "/" &&
  JSON.stringify(acct.event_types) === JSON.stringify(EVENT_TYPES) &&
  Number.isInteger(acct.subscribers_count), show(acct));
check("getBotProfile: uri, icon, background, category, subcategory, location, country",
  ["uri", "icon", "background", "category", "subcategory", "country"].every(
    (k) => typeof acct[k] === "string") && typeof acct.location === "object", show(acct));
const members = acct.members || [];
check("getBotProfile: members with id, name, avatar, role (superadmin and admin)",
  members.length === 2 && members.every((m) => typeof m.id === "string" &&
    typeof m.name === "string" && typeof m.avatar === "string") &&
  members.some((m) => m.id === ch.superadmin.id && m.role === "superadmin") &&
  members.some((m) => m.id === admin.id && m.role === "admin"), show(members));

// ---- postToPublicChat: every message type the SDK has for a channel --------
// (its RichMedia and Keyboard messages are for bots' chats: not in the seed)
const media = "https://media.example.com";
const posts = [
  ["text", new M.Text("Hello from the Node SDK"), { text: "Hello from the Node SDK" }],
  // Picture(url, text): the SDK sends "thumbnail":null when there is none
  ["picture", new M.Picture(media + "/p.jpg", "A picture"),
    { text: "A picture", media: media + "/p.jpg" }],
  ["picture with thumbnail", new M.Picture(media + "/p.jpeg", "B", media + "/t.jpg"),
    { text: "B", media: media + "/p.jpeg", thumbnail: media + "/t.jpg" }],
  // Video(url, size): "text", "thumbnail" and "duration" all sent as null
  ["video", new M.Video(media + "/v.mp4", 10000), { media: media + "/v.mp4", size: 10000 }],
  // (its "text" is not a field of the seed's video: vcpd does not keep it)
  ["video with all", new M.Video(media + "/v.mp4", 52428800, "x", media + "/t.jpg", 180),
    { media: media + "/v.mp4", size: 52428800, duration: 180, thumbnail: media + "/t.jpg" }],
  ["file", new M.File(media + "/report.pdf", 153600, "report.pdf"),
    { media: media + "/report.pdf", size: 153600, file_name: "report.pdf" }],
  // Contact(name, phone): the SDK adds "avatar":null inside contact (ignored)
  ["contact", new M.Contact("John Doe", "+12025550164"),
    { contact: { name: "John Doe", phone_number: "+12025550164" } }],
  ["location", new M.Location(37.7898, -122.3942),
    { location: { lat: 37.7898, lon: -122.3942 } }],
  // Url(url): the SDK encodeURI()s it and sends no text
  ["url", new M.Url(media + "/go here"), { media: media + "/go%20here" }],
  ["sticker", new M.Sticker(46105), { sticker_id: 46105 }],
];
const sent = [];
for (const [name, msg, want] of posts) {
  r = await settle(sdk.postToPublicChat(sender, msg));
  const tokens = r.value;
  check("postToPublicChat " + name + ": resolved with one message_token",
    r.ok && Array.isArray(tokens) && tokens.length === 1 && Number.isInteger(tokens[0]) &&
    tokens[0] > 0, show(r));
  if (r.ok) sent.push([name, msg.toJson().type, want, tokens[0]]);
}
// a message's minApiVersion goes out as "min_api_version" (ignored by vcpd)
r = await settle(sdk.postToPublicChat(sender, new M.Text("with min_api_version", null, null,
  null, null, 7)));
check("postToPublicChat with min_api_version: 0", r.ok && r.value.length === 1, show(r));
if (r.ok) sent.push(["min_api_version", "text", { text: "with min_api_version" }, r.value[0]]);
// a UserProfile as the sender (its avatar is null unless given)
r = await settle(sdk.postToPublicChat(new ViberBot.UserProfile(ch.superadmin.id, "Alice"),
  new M.Text("from a UserProfile")));
check("postToPublicChat with a UserProfile sender (sender.avatar null): 0",
  r.ok && r.value.length === 1, show(r));
if (r.ok) sent.push(["userprofile", "text", { text: "from a UserProfile" }, r.value[0]]);

// every post the SDK was told succeeded is stored as it was sent: each
// stored message (but its sender, checked below) is exactly {type, ...want},
// no key more (a "thumbnail":null or "duration":null kept is a failure), no
// key less, at every depth (contact's "avatar":null included)
const canon = (v) => JSON.stringify(v, (k, x) => (x && typeof x === "object" &&
  !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map((key) => [key, x[key]])) : x));
const stored = (await postsOf(ch.channel.id)).reverse();
check("vcpd stored exactly the posts the SDK was answered 0 for",
  stored.length === sent.length, stored.length + " stored, " + sent.length + " answered");
const tokensSeen = new Set();
sent.forEach(([name, type, want, token], i) => {
  const post = stored[i] || {};
  const { sender: _sender, ...msg } = post.message || {};
  // JavaScript reads a 63-bit token as a double: equal up to its precision
  const near = post.token !== undefined && Number(post.token) === token;
  tokensSeen.add(post.token);
  check("stored " + name + ": exactly the fields sent, from, and the token the SDK got",
    post.type === type && canon(msg) === canon({ type, ...want }) &&
    post.from === ch.superadmin.id && near,
    show(post) + " vs " + show({ type, ...want }) + " token " + token);
});
check("stored message_tokens are distinct", tokensSeen.size === sent.length);
check("the sender the SDK sends is kept (sender.name, sender.avatar)",
  stored[0] && stored[0].message.sender && stored[0].message.sender.name === "Alice" &&
  stored[0].message.sender.avatar === sender.avatar, show(stored[0]));

// ---- the SDK's error path: vcpd's refusals reach the caller ----------------
const badBot = bot("not-a-token-of-this-vcpd-0123456789");
checkRefused("bad token: post 2 invalidAuthToken",
  await settle(badBot.postToPublicChat(sender, new M.Text("x"))), 2, "invalidAuthToken");
checkRefused("bad token: getBotProfile 2 invalidAuthToken",
  await settle(badBot.getBotProfile()), 2, "invalidAuthToken");
checkRefused("bad token: setWebhook 2 invalidAuthToken",
  await settle(badBot.setWebhook(root.url + "/")), 2, "invalidAuthToken");
checkRefused("missing field: Text(\"\") 4 missingData",
  await settle(sdk.postToPublicChat(sender, new M.Text(""))), 4, "missingData", "text: required");
checkRefused("missing field: File without a file name 4 missingData",
  await settle(sdk.postToPublicChat(sender, new M.File(media + "/a.pdf", 10))), 4,
  "missingData", "file_name: required");
checkRefused("over a limit: Text of 7001 characters 3 badData",
  await settle(sdk.postToPublicChat(sender, new M.Text("a".repeat(7001)))), 3, "badData",
  "text: 7001 characters, max 7000");
checkRefused("wrong type: Location out of range 3 badData",
  await settle(sdk.postToPublicChat(sender, new M.Location(91, 0))), 3, "badData",
  "location.lat");
// The SDK sends a picture's empty description as "text":null ("" || null);
// the seed makes picture text required, so null there is refused (API.md §1)
checkRefused("Picture without a description (\"text\":null): 3 badData",
  await settle(sdk.postToPublicChat(sender, new M.Picture(media + "/p.jpg"))), 3, "badData",
  "text: must be a string");
// RichMedia is a bot-chat message (type "rich_media"), not one of the seed's eight
checkRefused("RichMedia (not a channel message type): 3 badData",
  await settle(sdk.postToPublicChat(sender, new M.RichMedia({ Type: "rich_media",
    Buttons: [] }))), 3, "badData", "unknown message type");
checkRefused("from an admin, not a superadmin: 3 badData",
  await settle(sdk.postToPublicChat({ id: admin.id, name: "Bob" }, new M.Text("x"))), 3,
  "badData", "superadmin");
checkRefused("sender.name over 28 characters: 3 badData",
  await settle(sdk.postToPublicChat({ id: ch.superadmin.id, name: "n".repeat(29) },
    new M.Text("x"))), 3, "badData", "sender.name");
checkRefused("blocked channel: 7 publicAccountBlocked",
  await settle(bot(blocked.token).postToPublicChat(
    { id: blocked.superadmin.id, name: "A" }, new M.Text("x"))), 7, "publicAccountBlocked");
const limitedBot = bot(limited.token);
const limitedSender = { id: limited.superadmin.id, name: "A" };
r = await settle(limitedBot.postToPublicChat(limitedSender, new M.Text("first")));
check("rate 1/60: the first post 0", r.ok && r.value.length === 1, show(r));
checkRefused("rate 1/60: the second 12 tooManyRequests",
  await settle(limitedBot.postToPublicChat(limitedSender, new M.Text("second"))), 12,
  "tooManyRequests");
check("nothing refused was stored",
  (await postsOf(ch.channel.id)).length === sent.length);

// ---- setWebhook(""): removes the webhook; posts then get 10 ----------------
r = await settle(sdk.setWebhook(""));
check("setWebhook(\"\"): 0, no callback made", r.ok && r.value.status === 0 &&
  root.seen.length === 2, show(r) + " callbacks " + root.seen.length);
checkRefused("post after removing the webhook: 10 webhookNotSet",
  await settle(sdk.postToPublicChat(sender, new M.Text("x"))), 10, "webhookNotSet");

console.log(`${passed} passed, ${failed} failed`);
if (failed) console.log("failed: " + failures.join("; "));
await finish(failed ? 1 : 0);
