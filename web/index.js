// The index page: every channel with its live viewer count, refreshed.
// Names and icons are set as text or checked URLs only.
"use strict";

(function () {
  const list = document.getElementById("channels");

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function initial(s) {
    return (Array.from(String(s || "?").trim())[0] || "?").toUpperCase();
  }

  function item(c) {
    const li = el("li");
    li.dataset.id = c.id;
    const a = el("a");
    a.href = "/channels/" + encodeURIComponent(c.id);
    const av = el("div", "avatar");
    let icon = null;
    try {
      const u = new URL(String(c.icon));
      if (u.protocol === "http:" || u.protocol === "https:") icon = u.href;
    } catch (e) { /* no icon */ }
    if (icon) {
      const img = el("img");
      img.src = icon;
      img.alt = "";
      img.referrerPolicy = "no-referrer";
      img.addEventListener("error", () => { img.remove(); av.textContent = initial(c.name); });
      av.appendChild(img);
    } else {
      av.textContent = initial(c.name);
    }
    a.appendChild(av);
    const lines = el("div");
    lines.appendChild(el("div", "name", c.name));
    const n = Number(c.subscribers_count) || 0;
    lines.appendChild(el("div", "meta viewers", n + (n === 1 ? " viewer" : " viewers") +
      (c.state !== "active" ? " \u00B7 " + c.state : "")));
    a.appendChild(lines);
    li.appendChild(a);
    return li;
  }

  async function refresh() {
    try {
      const r = await fetch("/api/v1/channels");
      if (!r.ok) throw new Error("HTTP " + r.status);
      const data = await r.json();
      list.replaceChildren(...data.channels.map(item));
      document.getElementById("empty").hidden = data.channels.length > 0;
      document.getElementById("error").hidden = true;
    } catch (e) {
      document.getElementById("error").hidden = false;
    }
    document.body.dataset.ready = "1";
  }

  refresh();
  setInterval(refresh, 5000);
})();
