// The channel page in headless Chromium: every message type rendered, live
// posts within 1 s, markup in posts shown as text and never run, older posts
// on scroll, the index with live viewers; a feed whose newest posts have
// pictures (served slowly by a server of this test) opens and stays at the
// newest post at 1280 and 390 px, with a "New posts" button when scrolled
// up; pictures that fail, videos without thumbnails, Viber's grouping and
// day separators; screenshots at desktop and phone sizes go to the
// artifacts directory.
// Usage: node page.test.mjs VCPD NODE_MODULES ARTIFACTS_DIR
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
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

  // ---- a feed whose newest posts are pictures, served slowly --------------
  // The JPEGs come from a server of this test on 127.0.0.1, each answered
  // after a delay, so they arrive after the page has scrolled.
  const maker = await ctx.newPage();
  const jpegs = {};
  for (const [name, w, h] of [["wide", 1200, 800], ["tall", 600, 1200]]) {
    const data = await maker.evaluate(([cw, chh]) => {
      const c = document.createElement("canvas");
      c.width = cw; c.height = chh;
      const g = c.getContext("2d");
      g.fillStyle = "#4a8"; g.fillRect(0, 0, cw, chh);
      g.fillStyle = "#fff"; g.fillRect(cw / 8, chh / 8, cw / 3, chh / 3);
      return c.toDataURL("image/jpeg", 0.8);
    }, [w, h]);
    jpegs[name] = Buffer.from(data.split(",")[1], "base64");
  }
  await maker.close();
  let served = 0;
  const imgServer = http.createServer((req, res) => {
    const m = req.url.match(/^\/img\/(wide|tall)-\d+\.jpg$/);
    if (!m) { res.writeHead(404); res.end(); return; }
    setTimeout(() => {
      served++;
      res.writeHead(200, { "Content-Type": "image/jpeg", "Cache-Control": "no-store" });
      res.end(jpegs[m[1]]);
    }, 500 + 50 * (served % 5));
  });
  await new Promise((r) => imgServer.listen(0, "127.0.0.1", r));
  const imgBase = "http://127.0.0.1:" + imgServer.address().port;
  try {
    const pics = cli("channel", "create", "--name", "Pictures", "--rate", "off");
    execFileSync(vcpd, ["channel", "set-webhook", pics.channel.id, base + "/sandbox/webhook", "--db", db]);
    const second = cli("member", "add", pics.channel.id, "--name", "Second", "--role", "superadmin");
    const secondId = (second.member || second).id;
    async function postAs(from, msg) {
      const r = await fetch(base + "/pa/post", { method: "POST",
        headers: { "X-Viber-Auth-Token": pics.token }, body: JSON.stringify({ from, ...msg }) });
      const text = await r.text();
      if (JSON.parse(text).status !== 0) throw new Error("post failed: " + text);
      return text.match(/"message_token":(\d+)/)[1];
    }
    const A = pics.superadmin.id;
    for (let i = 0; i < 12; i++) await postAs(secondId, { type: "text", text: "before the pictures " + i });
    // groups by sender: [second x12] [A x3] [second x2] [A ...]
    await postAs(A, { type: "text", text: "group one a" });
    await postAs(A, { type: "text", text: "group one b" });
    await postAs(A, { type: "text", text: "group one c" });
    await postAs(secondId, { type: "text", text: "group two a" });
    await postAs(secondId, { type: "text", text: "group two b" });
    await postAs(A, { type: "video", media: imgBase + "/clip.mp4", size: 2048, duration: 42 });
    await postAs(A, { type: "picture", text: "Broken caption once", media: imgBase + "/missing.jpg" });
    for (let i = 0; i < 6; i++)
      await postAs(A, { type: "picture", text: i % 2 ? "" : "Picture " + i,
        media: imgBase + "/img/" + (i % 3 ? "wide" : "tall") + "-" + i + ".jpg" });

    for (const [label, opts] of [
      ["1280", { viewport: { width: 1280, height: 860 } }],
      ["390", { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true,
        hasTouch: true }]]) {
      const c2 = await browser.newContext(opts);
      await c2.route("**/*", (route) => new URL(route.request().url()).hostname === "127.0.0.1"
        ? route.continue() : route.abort());
      const pg = await c2.newPage();
      pg.on("pageerror", (e) => pageErrors.push(String(e)));
      const servedBefore = served;
      await pg.goto(base + "/channels/" + pics.channel.id);
      await pg.waitForSelector("body[data-ready='1']", { timeout: 10000 });
      const frames = () => pg.$$eval("article a.media", (as) => as.map((a) => a.getBoundingClientRect().height));
      const early = await frames();
      // wait for the pictures in view to arrive (each answered after >= 500 ms)
      await pg.waitForFunction(() => {
        const imgs = Array.from(document.querySelectorAll("article img")).filter((i) => {
          const r = i.getBoundingClientRect();
          return r.bottom > 0 && r.top < window.innerHeight;
        });
        return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
      }, null, { timeout: 10000 }).catch(() => {});
      await sleep(400);
      check(label + ": pictures were served after the page was ready", served > servedBefore,
        served + " served");
      const late = await frames();
      check(label + ": picture frames reserved before loading (no layout shift)",
        early.length === late.length && early.every((h, i) => Math.abs(h - late[i]) < 1),
        JSON.stringify([early, late]));
      const pos = await pg.evaluate(() => {
        const d = document.documentElement;
        const last = document.querySelector("#posts article:last-of-type").getBoundingClientRect();
        return { gap: d.scrollHeight - (window.scrollY + window.innerHeight),
          lastBottom: last.bottom, h: window.innerHeight };
      });
      check(label + ": opens at the newest post after the pictures load",
        pos.gap <= 2 && pos.lastBottom <= pos.h + 1, JSON.stringify(pos));
      check(label + ": no jump button at the bottom", await pg.locator("#jump").isHidden());
      await pg.screenshot({ path: path.join(artifacts, "pictures-" + label + ".png") });

      // scrolled up: the button shows; a live post does not move the view
      await pg.evaluate(() => window.scrollBy(0, -700));
      await sleep(200);
      check(label + ": 'New posts' button when not at the bottom",
        (await pg.locator("#jump").isVisible()) &&
        (await pg.locator("#jump").textContent()).includes("New posts"));
      const y0 = await pg.evaluate(() => window.scrollY);
      const liveTok = await postAs(A, { type: "picture", text: "live picture " + label,
        media: imgBase + "/img/wide-9" + label + ".jpg" });
      await pg.waitForSelector(`article[data-token='${liveTok}']`, { state: "attached", timeout: 2000 });
      await sleep(800);
      check(label + ": a live post while scrolled up keeps the view",
        Math.abs((await pg.evaluate(() => window.scrollY)) - y0) <= 1);
      check(label + ": and the button counts it",
        (await pg.locator("#jump").textContent()).includes("1 new post"),
        await pg.locator("#jump").textContent());
      await pg.locator("#jump").click();
      await sleep(900);
      const back = await pg.evaluate(() => document.documentElement.scrollHeight -
        (window.scrollY + window.innerHeight));
      check(label + ": the button goes to the newest post", back <= 2 &&
        (await pg.locator("#jump").isHidden()), String(back));
      await c2.close();
    }

    // what one page shows (desktop): a failed picture, a video without thumbnail, groups
    const c3 = await browser.newContext({ viewport: { width: 1280, height: 2400 } });
    await c3.route("**/*", (route) => new URL(route.request().url()).hostname === "127.0.0.1"
      ? route.continue() : route.abort());
    const pg = await c3.newPage();
    pg.on("pageerror", (e) => pageErrors.push(String(e)));
    await pg.goto(base + "/channels/" + pics.channel.id);
    await pg.waitForSelector("body[data-ready='1']");
    const broken = pg.locator("article[data-type='picture']", { hasText: "Broken caption once" });
    await broken.locator(".noimg").waitFor({ timeout: 5000 }).catch(() => {});
    const btext = await broken.textContent();
    check("failed picture: its description once", btext.split("Broken caption once").length === 2 &&
      (await broken.locator(".noimg").count()) === 1, btext);
    const vmedia = pg.locator("article[data-type='video'] a.media");
    check("video without thumbnail: nothing under the play button",
      (await vmedia.locator(".noimg").textContent()) === "" &&
      !(await vmedia.textContent()).toLowerCase().includes("video"), await vmedia.textContent());
    const groups = await pg.$$eval("article", (as) => as.filter((a) => a.textContent.includes("group "))
      .map((a) => ({ name: getComputedStyle(a.querySelector(".sender")).display !== "none",
        avatar: getComputedStyle(a.querySelector(".avatar")).visibility !== "hidden" })));
    check("grouping: the name on the first post of each sender's run",
      JSON.stringify(groups.map((g) => g.name)) === "[true,false,false,true,false]", JSON.stringify(groups));
    check("grouping: the avatar on the last",
      JSON.stringify(groups.map((g) => g.avatar)) === "[false,false,true,false,true]", JSON.stringify(groups));
    check("one day separator for today's posts",
      JSON.stringify(await pg.locator(".day").allTextContents()) === '["Today"]',
      JSON.stringify(await pg.locator(".day").allTextContents()));
    await c3.close();

    // day separators across days, and groups split by time: a posts list
    // made by the test (created_ms cannot be set through the API)
    const days = cli("channel", "create", "--name", "Days", "--rate", "off");
    const now = new Date();
    const at = (daysAgo, h, m) => Date.UTC(now.getUTCFullYear(), now.getUTCMonth(),
      now.getUTCDate() - daysAgo, h, m);
    const todayMs = Math.min(Date.now() - 60000, at(0, 23, 0));
    const fake = [
      [1, at(2, 9, 0), "x"], [2, at(2, 9, 1), "x"], [3, at(1, 18, 0), "x"],
      [4, todayMs - 45 * 60000, "x"], [5, todayMs, "x"]];
    const c4 = await browser.newContext({ viewport: { width: 1280, height: 860 }, timezoneId: "UTC" });
    await c4.route("**/*", (route) => {
      const u = new URL(route.request().url());
      if (u.hostname !== "127.0.0.1") return route.abort();
      if (u.pathname.endsWith("/posts")) {
        const posts = fake.slice().reverse().map(([t, ms, from]) =>
          `{"message_token":${t},"type":"text","from":"${from}","created_ms":${ms},` +
          `"message":{"type":"text","text":"day post ${t}"}}`);
        return route.fulfill({ status: 200, contentType: "application/json",
          body: `{"posts":[${posts.join(",")}],"next":null}` });
      }
      return route.continue();
    });
    const pd = await c4.newPage();
    pd.on("pageerror", (e) => pageErrors.push(String(e)));
    await pd.goto(base + "/channels/" + days.channel.id);
    await pd.waitForSelector("body[data-ready='1']");
    const seps = await pd.locator(".day").allTextContents();
    check("day separators: one per day, Yesterday and Today named",
      seps.length === 3 && !["Today", "Yesterday"].includes(seps[0]) &&
      seps[0].includes(String(new Date(at(2, 9, 0)).getUTCDate())) &&
      seps[1] === "Yesterday" && seps[2] === "Today", JSON.stringify(seps));
    const order = await pd.$$eval("#posts > *", (xs) => xs.map((x) =>
      x.classList.contains("day") ? "|" : x.dataset.token).join(" "));
    check("day separators between the right posts", order === "| 1 2 | 3 | 4 5", order);
    const named = await pd.$$eval("article", (as) => as.map((a) =>
      getComputedStyle(a.querySelector(".sender")).display !== "none"));
    check("a new day and 10+ minutes apart start new groups",
      JSON.stringify(named) === "[true,false,true,true,true]", JSON.stringify(named));
    await c4.close();
  } finally {
    imgServer.close();
  }

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
