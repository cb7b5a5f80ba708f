// The channel page in headless Chromium: every message type rendered, live
// posts within 1 s, markup in posts shown as text and never run, older posts
// on scroll, the index with live viewers; screenshots at desktop and phone
// sizes go to the artifacts directory.
// Usage: node page.test.mjs VCPD NODE_MODULES ARTIFACTS_DIR
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";

const [vcpd, nodeModules, artifacts] = process.argv.slice(2);
const require = createRequire(path.join(nodeModules, "x.js"));
const { chromium } = require("playwright-core");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vcp-browser-"));
const db = path.join(dir, "vcpd.db");
const portFile = path.join(dir, "port");
let passed = 0, failed = 0;
const failures = [];

function check(name, cond, detail) {
  if (cond) { passed++; console.log("ok   " + name); }
  else { failed++; failures.push(name); console.log("FAIL " + name + (detail ? ": " + detail : "")); }
}

function cli(...args) {
  return JSON.parse(execFileSync(vcpd, [...args, "--db", db, "--json"], { encoding: "utf8" }));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const server = spawn(vcpd, ["serve", "--listen", "127.0.0.1:0", "--port-file", portFile,
  "--db", db, "--sandbox", "--access-log", path.join(dir, "access.log")],
  { stdio: ["ignore", "inherit", "inherit"] });
let port = 0;
for (let i = 0; i < 500 && !port; i++) {
  await sleep(20);
  try { port = Number(fs.readFileSync(portFile, "utf8").trim()); } catch (e) { /* not yet */ }
}
if (!port) { console.log("vcpd did not start"); process.exit(1); }
const base = "http://127.0.0.1:" + port;

const NAME = "Team <b>news</b> & co";
const ch = cli("channel", "create", "--name", NAME, "--rate", "off");
const pa = ch.channel.id;
execFileSync(vcpd, ["channel", "set-webhook", pa, base + "/sandbox/webhook", "--db", db]);

async function post(msg) {
  const r = await fetch(base + "/pa/post", {
    method: "POST",
    headers: { "X-Viber-Auth-Token": ch.token },
    body: JSON.stringify({ from: ch.superadmin.id, ...msg }),
  });
  const text = await r.text();
  const js = JSON.parse(text);
  if (js.status !== 0) throw new Error("post failed: " + text);
  return text.match(/"message_token":(\d+)/)[1];
}

// Media URLs stay on loopback: nothing in this test leaves the machine.
const media = base + "/media";
const samples = {
  text: { type: "text", text: "Hello from vcpd, see https://example.org/docs?x=1 now." },
  picture: { type: "picture", text: "A picture description", media: media + "/photo.jpg",
    thumbnail: media + "/thumb.jpg" },
  video: { type: "video", media: media + "/clip.mp4", size: 10485760, duration: 42,
    thumbnail: media + "/vthumb.jpg" },
  file: { type: "file", media: media + "/report.pdf", size: 153600, file_name: "report.pdf" },
  contact: { type: "contact", contact: { name: "Ann Example", phone_number: "+15551234567" } },
  location: { type: "location", location: { lat: 37.7898, lon: -122.3942 } },
  url: { type: "url", media: "https://www.example.com/article", text: "Read the article" },
  sticker: { type: "sticker", sticker_id: 40133 },
};

let browser;
try {
  for (let i = 0; i < 24; i++) await post({ type: "text", text: "older post " + i });
  for (const m of Object.values(samples)) await post(m);

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    // playwright gives every launch a fresh temporary --user-data-dir itself
  });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const outside = [];
  await ctx.route("**/*", (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === "127.0.0.1") return route.continue();
    outside.push(u.href);
    return route.abort();
  });
  const page = await ctx.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("dialog", (d) => { pageErrors.push("dialog: " + d.message()); d.dismiss(); });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__csp.push(e.violatedDirective + " " + e.blockedURI));
  });
  await page.goto(base + "/channels/" + pa);
  await page.waitForSelector("body[data-ready='1']", { timeout: 10000 });
  await page.waitForSelector("#live.on", { timeout: 5000 });

  // the fillers are text posts too: count the sample of each type
  for (const type of Object.keys(samples))
    check("renders " + type, await page.locator(`article[data-type='${type}']`)
      .filter({ hasNotText: "older post" }).count() === 1);
  const txt = page.locator("article[data-type='text']").last();
  check("text: link clickable",
    (await txt.locator("a").getAttribute("href")) === "https://example.org/docs?x=1");
  check("text: rest as text", (await txt.locator(".text").textContent()).includes("now."));
  const pic = page.locator("article[data-type='picture']");
  check("picture: image", (await pic.locator("a.media").getAttribute("href")) === samples.picture.media);
  check("picture: description", (await pic.textContent()).includes("A picture description"));
  const vid = page.locator("article[data-type='video']");
  const vtext = await vid.textContent();
  check("video: duration and size", vtext.includes("0:42") && vtext.includes("10.0 MB"), vtext);
  check("video: thumbnail", (await vid.locator("img, .noimg").count()) === 1);
  const file = page.locator("article[data-type='file']");
  check("file: name, size, type", (await file.locator(".file-name").textContent()) === "report.pdf" &&
    (await file.locator(".file-info").textContent()).includes("150.0 KB") &&
    (await file.locator(".file-info").textContent()).includes("PDF"));
  const contact = page.locator("article[data-type='contact']");
  check("contact card", (await contact.locator(".contact-name").textContent()) === "Ann Example" &&
    (await contact.locator(".contact-phone").textContent()) === "+15551234567");
  const loc = page.locator("article[data-type='location']");
  const map = await loc.locator("a.map-link").getAttribute("href");
  check("location: coordinates", (await loc.locator(".coords").textContent()) === "37.78980, -122.39420");
  check("location: map link", map.startsWith("https://www.openstreetmap.org/?mlat=37.7898&mlon=-122.3942"), map);
  const url = page.locator("article[data-type='url']");
  check("url card", (await url.textContent()).includes("Read the article") &&
    (await url.locator("a.url-link").getAttribute("href")) === samples.url.media);
  check("sticker placeholder",
    (await page.locator("article[data-type='sticker'] .sticker").textContent()).includes("40133"));
  const senders = await page.locator("article .sender").allTextContents();
  check("sender is the channel", senders.length >= 8 && senders.every((s) => s === NAME), senders[0]);
  check("channel name as text", (await page.locator("#name").textContent()) === NAME &&
    (await page.locator("header b").count()) === 0);

  // a post made while the page is open appears within 1 s
  const t0 = Date.now();
  const liveToken = await post({ type: "text", text: "live post " + t0 });
  await page.waitForSelector(`article[data-token='${liveToken}']`, { timeout: 1000 })
    .then(() => check("live post within 1 s (" + (Date.now() - t0) + " ms)", Date.now() - t0 < 1000),
      () => check("live post within 1 s", false));

  // markup in a post is text and runs nothing
  const evil = '<script>window.__xss=1;alert(1)</script><img src=x onerror="window.__xss=2;alert(2)"> <b>bold</b>';
  const evilToken = await post({ type: "text", text: evil });
  await page.waitForSelector(`article[data-token='${evilToken}']`, { timeout: 2000 });
  await sleep(300);
  const evilArt = page.locator(`article[data-token='${evilToken}']`);
  check("markup shown as text", (await evilArt.locator(".text").textContent()) === evil);
  check("no element from markup", (await evilArt.locator("script, img[src='x'], b").count()) === 0);
  check("nothing ran", (await page.evaluate(() => window.__xss)) === undefined);
  await post({ type: "url", media: "https://example.com/?q=%3Cscript%3Ealert(4)%3C/script%3E", text: "<img src=x onerror=alert(3)>" });
  await sleep(300);
  check("nothing ran (url card)", (await page.evaluate(() => window.__xss)) === undefined);

  // older posts load on scroll to the top
  const before = await page.locator("article").count();
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForFunction((n) => document.querySelectorAll("article").length > n, before,
    { timeout: 5000 }).catch(() => {});
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForFunction(() => document.getElementById("older-status").textContent.includes("Beginning"),
    null, { timeout: 5000 }).catch(() => {});
  const all = await page.locator("article").count();
  check("older posts on scroll (" + before + " -> " + all + ")", before < all && all === 24 + 8 + 3);
  const order = await page.$$eval("article", (as) => as.map((a) => a.dataset.token));
  check("chronological, no duplicates", new Set(order).size === order.length &&
    order.every((t, i) => i === 0 || BigInt(order[i - 1]) < BigInt(t)));

  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await sleep(200);
  await page.screenshot({ path: path.join(artifacts, "channel-desktop.png") });

  // the index lists the channel with its live viewer (the page above)
  const idx = await ctx.newPage();
  await idx.goto(base + "/");
  await idx.waitForSelector("body[data-ready='1']");
  const row = idx.locator(`li[data-id='${pa}']`);
  check("index: channel listed", (await row.locator(".name").textContent()) === NAME);
  check("index: live viewers", (await row.locator(".viewers").textContent()).startsWith("1 viewer"),
    await row.locator(".viewers").textContent());
  await idx.screenshot({ path: path.join(artifacts, "index-desktop.png") });

  // the request journal, for the channel's admins: refusals with their detail, live
  const refuse = (extra) => fetch(base + "/pa/post", { method: "POST",
    headers: { "X-Viber-Auth-Token": ch.token },
    body: JSON.stringify({ from: "not-a-member", type: "text", text: "<b>refused</b>", ...extra }) });
  await refuse({ auth_token: ch.token });
  await page.click("#journal-toggle");
  await page.fill("#journal-key", "not-the-key-000000000000000000000");
  await page.click("#journal-show");
  check("journal: a wrong key is refused", await page.waitForFunction(() =>
    document.getElementById("journal-status").textContent.includes("not authorized"), null,
  { timeout: 5000 }).then(() => true, () => false));
  await page.fill("#journal-key", ch.token);
  await page.click("#journal-show");
  const shown = await page.waitForSelector("#journal-rows li.refused", { timeout: 5000 })
    .then(() => true, () => false);
  const jtext = shown ? await page.locator("#journal-rows").textContent() : "";
  check("journal: the refusal and why", jtext.includes("3 badData") &&
    jtext.includes("from: not a superadmin of this channel"), jtext.slice(0, 300));
  check("journal: token masked", !jtext.includes(ch.token) && jtext.includes('"auth_token":"***"'));
  check("journal: body markup as text", (await page.locator("#journal-rows b").count()) === 0);
  const rowsBefore = await page.locator("#journal-rows li").count();
  const tj = Date.now();
  await page.waitForFunction(() => document.getElementById("journal-status").textContent.startsWith("live"),
    null, { timeout: 5000 }).catch(() => {});
  await refuse({});
  check("journal: live within 2 s", await page.waitForFunction((n) =>
    document.querySelectorAll("#journal-rows li").length > n, rowsBefore, { timeout: 2000 })
    .then(() => true, () => false), (Date.now() - tj) + " ms");
  await page.screenshot({ path: path.join(artifacts, "channel-journal.png") });
  await page.click("#journal-toggle");

  // phone size
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await phone.route("**/*", (route) => new URL(route.request().url()).hostname === "127.0.0.1"
    ? route.continue() : route.abort());
  const pp = await phone.newPage();
  pp.on("pageerror", (e) => pageErrors.push(String(e)));
  await pp.goto(base + "/channels/" + pa);
  await pp.waitForSelector("body[data-ready='1']");
  await pp.waitForSelector("#live.on", { timeout: 5000 });
  const overflow = await pp.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check("phone: no horizontal overflow", overflow <= 0, String(overflow));
  await pp.screenshot({ path: path.join(artifacts, "channel-phone.png") });
  await pp.evaluate(() => window.scrollTo(0, 0));
  await sleep(300);
  await pp.screenshot({ path: path.join(artifacts, "channel-phone-top.png") });

  check("no page errors", pageErrors.length === 0, pageErrors.join("; "));
  const csp = await page.evaluate(() => window.__csp);
  check("no CSP violation by the page's own assets", csp.every((v) => !v.includes("127.0.0.1")), csp.join("; "));
  check("nothing requested outside loopback", outside.length === 0, outside.join(" "));

  // unknown channel: 404 page
  const resp = await page.goto(base + "/channels/pa:1");
  check("unknown channel 404", resp.status() === 404);
} catch (e) {
  check("no exception", false, e && e.stack);
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  if (failed === 0) fs.rmSync(dir, { recursive: true, force: true });
  else console.log("kept " + dir);
}
console.log(`browser: ${passed} passed, ${failed} failed`);
console.log("screenshots in " + artifacts);
process.exit(failed ? 1 : 0);
