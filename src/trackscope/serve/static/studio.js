/* trackscope studio: what both pages share — the API client (with the token), formatting as musicians read it,
   mood colours, a tiny DOM builder that only ever sets text (names are data, never markup), and the delete dialog. */
"use strict";
(function () {
  const CONFIG = JSON.parse(document.getElementById("studio-config").textContent);
  const TOKEN_KEY = "trackscope_token";

  // A printed URL carries ?token=: keep it for this tab's fetches, then take it out of the address bar (the
  // server has set its cookie for <img>, <audio> and plain links by now).
  const url = new URL(window.location.href);
  if (url.searchParams.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, url.searchParams.get("token"));
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  function token() { return sessionStorage.getItem(TOKEN_KEY); }
  function authHeaders() { const t = token(); return t ? { Authorization: "Bearer " + t } : {}; }

  // fetch + JSON; a non-2xx answer becomes an Error carrying the server's one-line {"error"} message.
  async function api(path, options = {}) {
    const opts = { ...options, headers: { Accept: "application/json", ...authHeaders(), ...(options.headers || {}) } };
    let response;
    try {
      response = await fetch(path, opts);
    } catch (err) {
      throw new Error("The studio server does not answer: is `trackscope serve` still running?");
    }
    if (response.status === 204) return null;
    let body = null;
    const text = await response.text();
    try { body = text ? JSON.parse(text) : null; } catch (err) { body = null; }
    if (!response.ok) {
      const message = body && typeof body.error === "string" ? body.error
        : response.status === 401 ? "Not allowed: open the URL with ?token= that `trackscope serve` printed."
        : `The server answered ${response.status} ${response.statusText}`.trim();
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // -- formatting ------------------------------------------------------------------------------------------------
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  function duration(seconds) {
    if (!isNum(seconds) || seconds < 0) return "–";
    const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
  }
  function clock(seconds) {  // m:ss.s for the transport
    if (!isNum(seconds) || seconds < 0) return "0:00";
    const m = Math.floor(seconds / 60), s = seconds - 60 * m;
    return `${m}:${s.toFixed(1).padStart(4, "0")}`;
  }
  function signed(v, digits = 2) {
    if (!isNum(v)) return "–";
    return (v > 0 ? "+" : v < 0 ? "−" : "") + Math.abs(v).toFixed(digits);
  }
  function fixed(v, digits) { return isNum(v) ? v.toFixed(digits).replace("-", "−") : "–"; }
  function percent(v) { return isNum(v) ? Math.round(100 * v) + " %" : "–"; }
  function bytes(n) {
    if (!isNum(n)) return "";
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(0) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }
  // A Camelot code ("(6B)") as a number for sorting keys around the wheel.
  function camelotRank(key) {
    const m = /\((\d{1,2})([AB])\)/.exec(key || "");
    return m ? Number(m[1]) * 2 + (m[2] === "B" ? 1 : 0) : null;
  }
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

  // -- moods -----------------------------------------------------------------------------------------------------
  const PALETTE = ["#8f7ae6", "#e08a4f", "#4fb8c9", "#c45ea8", "#a3b94e", "#9a8b7a"];
  const WORDS = CONFIG.quadrant_words || {};
  // The class a song or window belongs to: its quadrant, else its mood when that is a class, else by words.
  function moodClass(item) {
    if (!item) return null;
    if (item.quadrant) return item.quadrant;
    const classes = CONFIG.classes || [];
    if (classes.includes(item.mood)) return item.mood;
    for (const [c, w] of Object.entries(WORDS)) if (w === item.mood) return c;
    return item.mood || null;
  }
  function moodColour(item) {
    const c = moodClass(item);
    if (c === null || c === undefined) return "var(--q-none)";
    if (/^Q[1-4]$/.test(c)) return `var(--${c.toLowerCase()})`;
    const i = (CONFIG.classes || []).indexOf(c);
    return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
  }
  function moodWords(item) {
    if (!item || item.mood === null || item.mood === undefined) return null;
    return WORDS[item.mood] || item.mood;
  }
  function colourOfClass(c) { return moodColour({ quadrant: /^Q[1-4]$/.test(c) ? c : null, mood: c }); }

  // -- DOM -------------------------------------------------------------------------------------------------------
  // el("span", {class: "chip", dataset: {testid: "song-mood"}}, "text", child...): text goes in as text nodes.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "style") for (const [p, val] of Object.entries(v)) node.style.setProperty(p, val);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const SVG_NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function moodChip(item, testid) {
    const words = moodWords(item);
    return el("span", { class: "chip", style: { "--c": moodColour(item) }, dataset: testid ? { testid } : {} },
      words === null ? "no mood (silent)" : words);
  }
  function showError(message, node = document.getElementById("error")) {
    if (!node) return;
    if (!message) { node.hidden = true; node.textContent = ""; return; }
    node.textContent = message;
    node.hidden = false;
  }

  // The delete dialog: resolves true when the person confirms.
  function confirmDelete(name) {
    const dialog = document.getElementById("confirm-dialog");
    document.getElementById("confirm-text").textContent =
      `“${name}” and its analyses leave the workspace, and its stored audio is deleted. This cannot be undone.`;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      dialog.querySelector("[value=cancel]").focus();
    });
  }
  async function deleteSong(song) {
    if (!(await confirmDelete(song.name))) return false;
    await api(`/api/songs/${encodeURIComponent(song.id)}`, { method: "DELETE" });
    return true;
  }

  window.Studio = {
    CONFIG, api, authHeaders, token, duration, clock, signed, fixed, percent, bytes, camelotRank, collator, isNum,
    moodClass, moodColour, moodWords, colourOfClass, el, svg, moodChip, showError, confirmDelete, deleteSong,
  };
})();
