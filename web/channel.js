// The channel page: the feed from the read API, live posts from the event
// stream, older posts on scroll.  Every string from a post is set with
// textContent or as a checked http(s) URL attribute; nothing is parsed as
// markup (and the Content-Security-Policy forbids inline script anyway).
//
// It opens at the newest post and stays there while the page settles:
// pictures reserve their frame before they load (app.css), and while the
// reader is at the bottom ("pinned") any growth of the feed scrolls it back
// down.  Scrolling up unpins it and shows the jump button.  Posts are grouped
// as Viber does (one name per run of posts from the same sender, the avatar
// on the last), with a separator per day.
"use strict";

(function () {
  const PAGE = 30;
  const id = decodeURIComponent(location.pathname.split("/")[2] || "");
  const api = "/api/v1/channels/" + encodeURIComponent(id);
  const postsEl = document.getElementById("posts");
  const statusEl = document.getElementById("older-status");
  const jump = document.getElementById("jump");
  const seen = new Set();
  let channel = { name: id, icon: "" };
  let oldest = null; // token (string) of the oldest post shown
  let newest = null; // token (string) of the newest post shown
  let more = true;
  let loading = false;
  let pinned = true; // the reader is at the newest post: keep it in view
  let lastY = 0; // scrollY at the last scroll event (up = the reader's doing)
  let unseen = 0; // live posts that arrived while the reader was scrolled up
  const GROUP_MS = 10 * 60 * 1000; // posts further apart start a new group

  // message_token does not fit a JavaScript number: keep tokens as strings.
  function parse(text) {
    return JSON.parse(text.replace(/"(message_token|next)":(\d+)/g, '"$1":"$2"'));
  }

  async function get(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return parse(await r.text());
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function safeUrl(u) {
    try {
      const url = new URL(String(u));
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(href, text, cls) {
    const u = safeUrl(href);
    if (!u) return el("span", cls, text);
    const a = el("a", cls, text);
    a.href = u;
    a.target = "_blank";
    a.rel = "noopener noreferrer nofollow";
    return a;
  }

  // Text with its http(s) links made clickable; nothing else interpreted.
  function linkified(text, cls) {
    const box = el("div", cls || "text");
    const re = /\bhttps?:\/\/[^\s<>"']+/gi;
    let last = 0;
    let m;
    text = String(text || "");
    while ((m = re.exec(text)) !== null) {
      let url = m[0];
      const trail = url.match(/[.,;:!?)\]}]+$/);
      if (trail) url = url.slice(0, -trail[0].length);
      if (m.index > last) box.appendChild(document.createTextNode(text.slice(last, m.index)));
      box.appendChild(link(url, url));
      last = m.index + url.length;
      re.lastIndex = last;
    }
    if (last < text.length) box.appendChild(document.createTextNode(text.slice(last)));
    return box;
  }

  function size(n) {
    n = Number(n) || 0;
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function duration(s) {
    s = Math.max(0, Math.floor(Number(s) || 0));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  // An image in its reserved frame; one that cannot be shown leaves the frame
  // with the label "missing" (not its description: the caption shows that).
  function image(src, alt, missing) {
    const u = safeUrl(src);
    if (!u) return el("div", "noimg", missing);
    const img = el("img");
    img.src = u;
    img.alt = alt || "";
    img.loading = "lazy";
    img.referrerPolicy = "no-referrer";
    img.addEventListener("error", () => img.replaceWith(el("div", "noimg", missing)));
    return img;
  }

  function avatar(cls) {
    const a = el("div", cls);
    const u = safeUrl(channel.icon);
    if (u) {
      const img = el("img");
      img.src = u;
      img.alt = "";
      img.referrerPolicy = "no-referrer";
      img.addEventListener("error", () => { img.remove(); a.textContent = initial(channel.name); });
      a.appendChild(img);
    } else {
      a.textContent = initial(channel.name);
    }
    return a;
  }

  function initial(s) {
    return (Array.from(String(s || "?").trim())[0] || "?").toUpperCase();
  }

  function extension(name) {
    const i = String(name).lastIndexOf(".");
    return i > 0 ? String(name).slice(i + 1).toUpperCase().slice(0, 5) : "FILE";
  }

  function card(iconText, iconCls, main, detail) {
    const c = el("div", "card");
    c.appendChild(el("div", "icon " + (iconCls || ""), iconText));
    const lines = el("div", "lines");
    lines.appendChild(main);
    for (const d of detail) if (d) lines.appendChild(d);
    c.appendChild(lines);
    return c;
  }

  // The body of one message, by type.
  function body(p) {
    const m = p.message || {};
    const b = el("div", "body");
    switch (p.type) {
    case "text":
      b.appendChild(linkified(m.text));
      break;
    case "picture": {
      const a = link(m.media, "", "media");
      a.appendChild(image(m.media, m.text || "picture", "Picture unavailable"));
      b.appendChild(a);
      if (m.text) b.appendChild(linkified(m.text));
      break;
    }
    case "video": {
      const a = link(m.media, "", "media video");
      // No label under the play button: the line below says "Video".
      if (m.thumbnail) a.appendChild(image(m.thumbnail, "video", ""));
      else a.appendChild(el("div", "noimg"));
      a.appendChild(el("span", "play", "\u25B6"));
      if (m.duration !== undefined) a.appendChild(el("span", "badge duration", duration(m.duration)));
      b.appendChild(a);
      const info = el("div", "detail video-info");
      info.textContent = "Video \u00B7 " + size(m.size) +
        (m.duration !== undefined ? " \u00B7 " + duration(m.duration) : "");
      b.appendChild(info);
      break;
    }
    case "file":
      b.appendChild(card(extension(m.file_name), "", link(m.media, m.file_name, "main file-name"),
        [el("div", "detail file-info", size(m.size) + " \u00B7 " + extension(m.file_name) + " file")]));
      break;
    case "contact": {
      const c = m.contact || {};
      b.appendChild(card(initial(c.name), "contact-initial", el("div", "main contact-name", c.name),
        [el("div", "detail contact-phone", c.phone_number), el("div", "detail", "Contact")]));
      break;
    }
    case "location": {
      const l = m.location || {};
      const lat = Number(l.lat), lon = Number(l.lon);
      const coords = lat.toFixed(5) + ", " + lon.toFixed(5);
      const map = "https://www.openstreetmap.org/?mlat=" + lat + "&mlon=" + lon +
        "#map=16/" + lat + "/" + lon;
      b.appendChild(card("MAP", "", el("div", "main", "Location"),
        [el("div", "detail coords", coords), link(map, "Open map", "map-link")]));
      break;
    }
    case "url": {
      const box = el("div", "urlcard");
      if (m.text) box.appendChild(linkified(m.text));
      box.appendChild(link(m.media, m.media, "url-link"));
      const u = safeUrl(m.media);
      if (u) box.appendChild(el("div", "host", new URL(u).host));
      b.appendChild(box);
      break;
    }
    case "sticker": {
      const s = el("div", "sticker");
      s.setAttribute("role", "img");
      s.setAttribute("aria-label", "sticker " + m.sticker_id);
      s.appendChild(el("div", "face", "\u263A"));
      s.appendChild(el("div", "sid", "sticker " + m.sticker_id));
      b.appendChild(s);
      break;
    }
    default:
      b.appendChild(el("div", "text", "(" + p.type + " message)"));
    }
    return b;
  }

  function render(p, fresh) {
    const art = el("article", "post post-" + String(p.type).replace(/[^a-z]/g, "") + (fresh ? " fresh" : ""));
    art.dataset.token = p.message_token;
    art.dataset.type = p.type;
    art.dataset.ms = String(Number(p.created_ms) || 0);
    art.dataset.from = String(p.from || "");
    art.appendChild(avatar("avatar small"));
    const bub = el("div", "bubble");
    bub.appendChild(el("div", "sender", channel.name)); // posts appear as the channel
    bub.appendChild(body(p));
    const t = el("time", "time", new Date(Number(p.created_ms)).toLocaleTimeString([],
      { hour: "2-digit", minute: "2-digit" }));
    t.dateTime = new Date(Number(p.created_ms)).toISOString();
    t.title = new Date(Number(p.created_ms)).toLocaleString();
    bub.appendChild(t);
    art.appendChild(bub);
    return art;
  }

  // How far the newest post is below the viewport, in px.
  function gap() {
    const d = document.documentElement;
    return d.scrollHeight - (window.scrollY + window.innerHeight);
  }

  function toBottom() {
    pinned = true;
    window.scrollTo(0, document.documentElement.scrollHeight);
  }

  // The jump button shows whenever the newest post is out of view.
  function updateJump() {
    const away = !pinned && gap() > 40;
    if (!away) unseen = 0;
    jump.hidden = !away;
    jump.textContent = (unseen ? unseen + (unseen === 1 ? " new post" : " new posts")
      : "New posts") + " \u2193";
  }

  function localDay(ms) {
    const d = new Date(Number(ms));
    return d.getFullYear() + "-" + d.getMonth() + "-" + d.getDate();
  }

  function dayLabel(ms) {
    const d = new Date(Number(ms));
    const now = new Date();
    const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (localDay(d) === localDay(now)) return "Today";
    if (localDay(d) === localDay(yesterday)) return "Yesterday";
    return d.toLocaleDateString([], { weekday: "long", day: "numeric", month: "long",
      year: d.getFullYear() === now.getFullYear() ? undefined : "numeric" });
  }

  // Date separators and Viber's grouping, recomputed over the whole feed
  // after every change (a few hundred elements: cheaper than being clever).
  // "cont": not the first post of its group (no sender name); "more": not
  // the last (no avatar, no bubble tail).
  function regroup() {
    for (const d of postsEl.querySelectorAll(".day")) d.remove();
    let prev = null;
    for (const a of postsEl.querySelectorAll("article")) {
      const newDay = !prev || localDay(a.dataset.ms) !== localDay(prev.dataset.ms);
      if (newDay) {
        const sep = el("div", "day");
        sep.setAttribute("role", "separator");
        sep.appendChild(el("span", null, dayLabel(a.dataset.ms)));
        postsEl.insertBefore(sep, a);
      }
      const cont = !newDay && prev.dataset.from === a.dataset.from &&
        Number(a.dataset.ms) - Number(prev.dataset.ms) < GROUP_MS;
      a.classList.toggle("cont", cont);
      if (prev) prev.classList.toggle("more", cont);
      prev = a;
    }
    if (prev) prev.classList.remove("more");
  }

  // A live post: appended in token order (the stream is ordered already).
  function addLive(p) {
    if (seen.has(p.message_token)) return;
    seen.add(p.message_token);
    postsEl.appendChild(render(p, true));
    regroup();
    if (newest === null || BigInt(p.message_token) > BigInt(newest)) newest = p.message_token;
    if (oldest === null) oldest = p.message_token;
    if (pinned) toBottom();
    else unseen++;
    updateJump();
  }

  async function loadOlder() {
    if (loading || !more) return;
    loading = true;
    statusEl.textContent = "Loading\u2026";
    try {
      const q = "?limit=" + PAGE + (oldest ? "&before=" + oldest : "");
      const page = await get(api + "/posts" + q);
      const before = document.documentElement.scrollHeight;
      const frag = document.createDocumentFragment();
      for (const p of page.posts.slice().reverse()) {
        if (seen.has(p.message_token)) continue;
        seen.add(p.message_token);
        frag.appendChild(render(p, false));
      }
      postsEl.insertBefore(frag, postsEl.firstChild);
      regroup();
      if (page.posts.length) {
        oldest = page.posts[page.posts.length - 1].message_token;
        if (newest === null) newest = page.posts[0].message_token;
      }
      more = page.next !== null;
      if (pinned) toBottom();
      else window.scrollBy(0, document.documentElement.scrollHeight - before);
      statusEl.textContent = more ? "" : (seen.size ? "Beginning of the channel" : "No posts yet");
    } catch (e) {
      statusEl.textContent = "Could not load posts";
    } finally {
      loading = false;
    }
  }

  async function refreshInfo() {
    try {
      const c = await get(api);
      channel = c;
      document.title = c.name;
      document.getElementById("name").textContent = c.name;
      const n = Number(c.subscribers_count) || 0;
      document.getElementById("viewers").textContent = n + (n === 1 ? " viewer" : " viewers") +
        (c.state && c.state !== "active" ? " \u00B7 " + c.state : "");
      const av = document.getElementById("avatar");
      av.replaceWith(Object.assign(avatar("avatar"), { id: "avatar" }));
    } catch (e) { /* shown by the live badge */ }
  }

  function stream() {
    const liveEl = document.getElementById("live");
    // Resume right after the newest post loaded: nothing posted in between is lost.
    const es = new EventSource(api + "/events?last_event_id=" + (newest || "0"));
    es.addEventListener("open", () => { liveEl.textContent = "live"; liveEl.className = "live on"; refreshInfo(); });
    es.addEventListener("error", () => { liveEl.textContent = "reconnecting"; liveEl.className = "live off"; });
    es.addEventListener("post", (e) => {
      try { addLive(parse(e.data)); } catch (err) { /* ignore a malformed event */ }
    });
  }

  async function start() {
    await refreshInfo();
    await loadOlder();
    toBottom();
    // Pictures arriving, fonts, a late avatar: whatever makes the feed grow
    // keeps the newest post in view while the reader is at the bottom.
    new ResizeObserver(() => {
      if (pinned) toBottom();
      updateJump();
    }).observe(postsEl);
    lastY = window.scrollY;
    window.addEventListener("scroll", () => {
      const y = window.scrollY;
      if (y < lastY) pinned = gap() <= 2; // the reader scrolled up: unpinned unless still at the end
      else if (gap() <= 2) pinned = true;
      lastY = y;
      updateJump();
    }, { passive: true });
    window.addEventListener("resize", () => { if (pinned) toBottom(); });
    stream();
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) loadOlder();
    }).observe(document.getElementById("top"));
    jump.addEventListener("click", () => { toBottom(); updateJump(); });
    setInterval(refreshInfo, 10000);
    document.body.dataset.ready = "1";
  }

  start();

  // --- the request journal: for the channel's admins (its token or the admin key) ---
  const jSection = document.getElementById("journal");
  const jRows = document.getElementById("journal-rows");
  const jStatus = document.getElementById("journal-status");
  const jKey = document.getElementById("journal-key");
  const jRefused = document.getElementById("journal-refused");
  const JMAX = 200;
  let jAbort = null;
  let jHeaders = null;
  jKey.value = sessionStorage.getItem("vcpd-journal-key") || "";

  function jEntry(e) {
    const li = el("li", "jrow" + (e.status !== 0 ? " refused" : ""));
    li.dataset.id = String(e.id);
    const head = el("div", "jhead");
    head.appendChild(el("span", "jtime", new Date(e.time_ms).toLocaleTimeString()));
    head.appendChild(el("span", "jep", e.endpoint));
    head.appendChild(el("span", "jstat", e.status === null ? "HTTP " + e.http
      : e.status + " " + e.status_message + (e.http !== 200 ? " (HTTP " + e.http + ")" : "")));
    head.appendChild(el("span", "jmeta", Number(e.latency_ms).toFixed(1) + " ms"));
    if (e.fault) head.appendChild(el("span", "jfault", "fault: " + e.fault));
    li.appendChild(head);
    if (e.detail) li.appendChild(el("div", "jdetail", e.detail));
    li.appendChild(el("pre", "jbody", e.body));
    return li;
  }

  function jAdd(e, atTop) {
    if (jRefused.checked && e.status === 0) return;
    if (jRows.querySelector("li[data-id='" + e.id + "']")) return;
    const li = jEntry(e);
    if (atTop) jRows.insertBefore(li, jRows.firstChild); else jRows.appendChild(li);
    while (jRows.children.length > JMAX) jRows.removeChild(jRows.lastChild);
  }

  // the channel's token goes in X-Viber-Auth-Token; otherwise it is the admin key
  async function jFetch(path, signal) {
    const key = jKey.value.trim();
    for (const h of [{ "X-Viber-Auth-Token": key }, { Authorization: "Bearer " + key }]) {
      const r = await fetch(api + path, { headers: h, signal: signal });
      if (r.status !== 401) return { r: r, h: h };
    }
    return { r: null, h: null };
  }

  // Server-Sent Events read with fetch: EventSource cannot send the key.
  async function jFollow(signal) {
    const r = await fetch(api + "/journal/events", { headers: jHeaders, signal: signal });
    if (!r.ok || !r.body) throw new Error("HTTP " + r.status);
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
        if (data.length) jAdd(JSON.parse(data.join("\n")), true);
      }
    }
  }

  async function jShow() {
    if (jAbort) jAbort.abort();
    jAbort = new AbortController();
    const signal = jAbort.signal;
    jRows.textContent = "";
    jStatus.textContent = "loading…";
    try {
      const { r, h } = await jFetch("/journal?limit=" + JMAX, signal);
      if (!r) { jStatus.textContent = "not authorized: give the channel's token or the admin key"; return; }
      if (!r.ok) { jStatus.textContent = "journal unavailable (HTTP " + r.status + ")"; return; }
      sessionStorage.setItem("vcpd-journal-key", jKey.value.trim());
      jHeaders = h;
      const js = await r.json();
      js.entries.forEach((e) => jAdd(e, false));
      for (;;) { // live; reconnect after a drop
        jStatus.textContent = "live: newest first";
        try { await jFollow(signal); } catch (e) { if (signal.aborted) return; }
        if (signal.aborted) return;
        jStatus.textContent = "reconnecting…";
        await new Promise((res) => setTimeout(res, 2000));
      }
    } catch (e) {
      if (!signal.aborted) jStatus.textContent = "journal unavailable";
    }
  }

  document.getElementById("journal-toggle").addEventListener("click", () => {
    jSection.hidden = !jSection.hidden;
    if (!jSection.hidden && jKey.value) jShow();
  });
  document.getElementById("journal-show").addEventListener("click", jShow);
  jRefused.addEventListener("change", jShow);
})();
