/* The songs page: drop zone and uploads (one XMLHttpRequest per file, for its progress), the songs table
   (sortable, filterable, kept in place between polls), the mood summary and the valence–arousal map. */
"use strict";
(function () {
  const S = window.Studio;
  const { el, svg } = S;
  const POLL_BUSY_MS = 1000, POLL_IDLE_MS = 15000, PARALLEL_UPLOADS = 2;
  const state = {
    songs: [], byId: new Map(), total: 0, rows: new Map(), points: new Map(),
    sort: { key: "added", dir: -1 }, filter: { q: "", mood: "", unusual: false },
    uploads: [], active: 0, timer: null, hot: null,
  };
  const $ = (id) => document.getElementById(id);
  const tbody = $("rows"), table = $("songs-table"), map = $("va-map"), tip = $("map-tip");
  const busy = (s) => s.status === "queued" || s.status === "analysing";
  const analysed = (s) => s.status === "done" && S.isNum(s.valence) && S.isNum(s.arousal);
  const stem = (name) => String(name).replace(/\.[A-Za-z0-9]{1,5}$/, "");

  // -- polling ---------------------------------------------------------------------------------------------------
  async function refresh() {
    clearTimeout(state.timer);
    try {
      const body = await S.api("/api/songs?limit=5000");
      state.songs = body.songs || [];
      state.total = S.isNum(body.total) ? body.total : state.songs.length;
      state.byId = new Map(state.songs.map((s) => [s.id, s]));
      S.showError(null);
      render();
    } catch (err) {
      S.showError(err.message);
    }
    const sending = state.uploads.some((u) => u.state === "uploading" || u.state === "waiting");
    const working = sending || state.songs.some(busy);
    state.timer = setTimeout(refresh, working ? POLL_BUSY_MS : POLL_IDLE_MS);
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });

  function render() {
    renderTable();
    renderMap();
    renderSummary();
    syncUploads();
  }

  // -- the table -------------------------------------------------------------------------------------------------
  const SORTERS = {
    added: (s) => s.id,
    name: (s) => s.name,
    mood: (s) => (s.status === "done" ? S.moodWords(s) || "~" : "~~" + s.status),
    key: (s) => S.camelotRank(s.key),
    novelty: (s) => s.novelty,
  };
  function compare(a, b) {
    const { key, dir } = state.sort;
    const get = SORTERS[key] || ((s) => s[key]);
    const va = get(a), vb = get(b);
    const missA = va === null || va === undefined, missB = vb === null || vb === undefined;
    if (missA || missB) return missA === missB ? a.id - b.id : missA ? 1 : -1;  // missing values last, both ways
    const c = typeof va === "string" ? S.collator.compare(va, vb) : va - vb;
    return c ? dir * c : a.id - b.id;
  }
  function matches(s) {
    const f = state.filter;
    if (f.q && !String(s.name).toLocaleLowerCase().includes(f.q)) return false;
    if (f.mood && S.moodClass(s) !== f.mood) return false;
    if (f.unusual && !s.unusual) return false;
    return true;
  }
  function cell(cls, ...children) { return el("td", { class: cls }, ...children); }
  const dash = () => el("span", { class: "dash" }, "–");

  function buildRow(s) {
    const tr = el("tr", { dataset: { testid: "song-row", songId: String(s.id), status: s.status } });
    const name = el("a", { class: "song-name", href: `/songs/${s.id}`, dataset: { testid: "song-name" },
      title: s.name }, s.name);
    const nameCell = cell("col-name", name);
    if (s.status === "failed" && s.error) {
      nameCell.append(el("span", { class: "song-error", dataset: { testid: "song-error" } }, s.error));
    }
    let mood;
    if (s.status === "done") mood = S.moodChip(s, "song-mood");
    else {
      const label = { queued: "queued", analysing: "analysing…", failed: "failed" }[s.status] || s.status;
      mood = el("span", { class: `chip status ${s.status}`, dataset: { testid: "song-mood" } }, label);
    }
    const done = s.status === "done";
    let novelty = dash();
    if (s.unusual) {
      const why = "this audio is unlike the music the mood model learnt from, so its mood is a guess";
      novelty = el("span", { class: "badge", dataset: { testid: "song-unusual" },
        title: `novelty ${S.fixed(s.novelty, 2)}: ${why}` }, "unusual");
    } else if (done && S.isNum(s.novelty)) {
      novelty = el("span", { class: "muted", title: "novelty (0 = typical)" }, S.fixed(s.novelty, 2));
    }
    let hit = dash();
    if (S.isNum(s.hit_potential)) {
      const bar = el("i", { style: { width: `${Math.round(100 * s.hit_potential)}%` } });
      hit = [S.percent(s.hit_potential), el("span", { class: "meter" }, bar)];
    }
    const del = el("button", {
      class: "icon-button", type: "button", dataset: { testid: "song-delete" }, title: "Delete this song",
      "aria-label": `Delete ${s.name}`,
      onclick: async (ev) => {
        ev.stopPropagation();
        try {
          if (await S.deleteSong(s)) { forget(s.id); refresh(); }
        } catch (err) { S.showError(err.message); }
      },
    });
    del.append(svg("svg", { viewBox: "0 0 20 20", width: 16, height: 16, "aria-hidden": "true" },
      svg("path", { d: "M4 6h12M8 6V4h4v2m-6 0 1 10h6l1-10", fill: "none", stroke: "currentColor",
        "stroke-width": 1.6, "stroke-linecap": "round", "stroke-linejoin": "round" })));
    tr.append(
      nameCell,
      cell("col-mood", mood),
      cell("num", el("span", { class: "signed" }, done ? S.signed(s.arousal) : "–")),
      cell("num", el("span", { class: "signed" }, done ? S.signed(s.valence) : "–")),
      cell("num", S.isNum(s.tempo) ? String(Math.round(s.tempo)) : dash()),
      cell("", s.key ? s.key : dash()),
      cell("num", S.isNum(s.loudness_lufs) ? S.fixed(s.loudness_lufs, 1) : dash()),
      cell("num", S.duration(s.duration)),
      cell("", novelty),
      cell("num col-hit", hit),
      cell("col-actions", del),
    );
    tr.addEventListener("click", (ev) => {  // the whole row opens the song (but not its buttons or text selection)
      if (ev.target.closest("a, button") || String(window.getSelection())) return;
      window.location.href = `/songs/${s.id}`;
    });
    tr.addEventListener("mouseenter", () => highlight(s.id, true));
    tr.addEventListener("mouseleave", () => highlight(s.id, false));
    return tr;
  }
  function forget(id) {
    const row = state.rows.get(id);
    if (row) row.tr.remove();
    state.rows.delete(id);
    state.songs = state.songs.filter((s) => s.id !== id);
    state.byId.delete(id);
    render();
  }

  function renderTable() {
    const seen = new Set();
    for (const s of state.songs) {
      seen.add(s.id);
      const sig = JSON.stringify(s);
      const row = state.rows.get(s.id);
      if (!row || row.sig !== sig) {
        const tr = buildRow(s);
        if (row) row.tr.replaceWith(tr);
        state.rows.set(s.id, { tr, sig });
      }
    }
    for (const [id, row] of state.rows) if (!seen.has(id)) { row.tr.remove(); state.rows.delete(id); }
    const shown = state.songs.filter(matches).sort(compare);
    const wanted = new Set(shown.map((s) => s.id));
    for (const [id, row] of state.rows) if (!wanted.has(id) && row.tr.parentNode) row.tr.remove();
    let prev = null;  // put rows in order, moving only those out of place
    for (const s of shown) {
      const tr = state.rows.get(s.id).tr;
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    const hits = state.songs.some((s) => S.isNum(s.hit_potential)) || !!S.CONFIG.popularity_model;
    table.classList.toggle("no-hit", !hits);
    const working = state.songs.filter(busy).length;
    const counts = [`${state.songs.length}${state.total > state.songs.length ? ` of ${state.total}` : ""}`];
    if (shown.length !== state.songs.length) counts.push(`${shown.length} shown`);
    if (working) counts.push(`${working} analysing`);
    $("count").textContent = "· " + counts.join(" · ");
    $("empty").hidden = state.songs.length > 0;
    $("no-match").hidden = !(state.songs.length > 0 && shown.length === 0);
    for (const th of table.querySelectorAll("th[aria-sort]")) {
      const key = th.querySelector("button").dataset.sort;
      th.setAttribute("aria-sort", key === state.sort.key ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
    }
  }
  for (const button of table.querySelectorAll("th button[data-sort]")) {
    button.addEventListener("click", () => {
      const key = button.dataset.sort;
      state.sort = state.sort.key === key ? { key, dir: -state.sort.dir } : { key, dir: 1 };
      renderTable();
    });
  }
  function refilter(change) { change(); renderTable(); renderMap(); renderSummary(); }
  $("filter").addEventListener("input", (ev) => refilter(() => {
    state.filter.q = ev.target.value.trim().toLocaleLowerCase();
  }));
  $("mood-filter").addEventListener("change", (ev) => refilter(() => { state.filter.mood = ev.target.value; }));
  $("unusual-filter").addEventListener("change", (ev) => refilter(() => { state.filter.unusual = ev.target.checked; }));

  // -- mood summary (a card per class; click filters) -------------------------------------------------------------
  function renderSummary() {
    const box = $("summary");
    const classes = S.CONFIG.classes || [];
    const done = state.songs.filter((s) => s.status === "done");
    box.replaceChildren(...classes.map((c) => {
      const n = done.filter((s) => S.moodClass(s) === c).length;
      const words = (S.CONFIG.quadrant_words || {})[c] || c;
      return el("button", {
        class: "stat" + (state.filter.mood === c ? " active" : ""), type: "button",
        style: { "--c": S.colourOfClass(c) },
        title: `Show only ${words} songs`, dataset: { mood: c },
        onclick: () => {
          state.filter.mood = state.filter.mood === c ? "" : c;
          $("mood-filter").value = state.filter.mood;
          renderTable(); renderMap(); renderSummary();
        },
      }, el("b", {}, String(n)), el("span", {}, words));
    }));
    box.style.gridTemplateColumns = `repeat(${Math.min(Math.max(classes.length, 1), 6)}, minmax(0, 1fr))`;
  }

  // -- the valence–arousal map -----------------------------------------------------------------------------------
  // The plot: valence along x, arousal up y, ±1 at the frame less a margin so no dot sits on the edge; the quadrant
  // names stand outside the frame (above and below), where no dot can cover them.
  const SIZE = 420, PL = 30, PR = 10, PT = 26, PB = 46, M = 10;
  let R = 6;  // a dot's radius: smaller when there are many
  const X = (v) => PL + M + ((v + 1) / 2) * (SIZE - PL - PR - 2 * M);
  const Y = (a) => PT + M + ((1 - a) / 2) * (SIZE - PT - PB - 2 * M);
  const pointsLayer = svg("g"), labelsLayer = svg("g");
  (function drawBackground() {
    const w = SIZE - PL - PR, h = SIZE - PT - PB, mx = PL + w / 2, my = PT + h / 2;
    const quads = [["Q2", PL, PT, "start", PL + 2, PT - 8], ["Q1", mx, PT, "end", SIZE - PR - 2, PT - 8],
      ["Q3", PL, my, "start", PL + 2, SIZE - PB + 17], ["Q4", mx, my, "end", SIZE - PR - 2, SIZE - PB + 17]];
    const words = S.CONFIG.quadrant_words || {};
    for (const [q, x, y, anchor, tx, ty] of quads) {
      const colour = `var(--${q.toLowerCase()})`;
      map.append(svg("rect", { x, y, width: w / 2, height: h / 2, fill: colour, "fill-opacity": 0.08 }));
      map.append(svg("text", { x: tx, y: ty, "text-anchor": anchor, class: "quad-label", fill: colour },
        words[q] || q));
    }
    map.append(svg("rect", { x: PL, y: PT, width: w, height: h, fill: "none", stroke: "#2a303b", rx: 4 }));
    map.append(svg("line", { x1: mx, y1: PT, x2: mx, y2: PT + h, stroke: "#3a4250", "stroke-dasharray": "3 4" }));
    map.append(svg("line", { x1: PL, y1: my, x2: PL + w, y2: my, stroke: "#3a4250", "stroke-dasharray": "3 4" }));
    map.append(svg("text", { x: mx, y: SIZE - 6, "text-anchor": "middle", class: "axis-label" },
      "negative  ←  valence  →  positive"));
    map.append(svg("text", { x: 14, y: my, "text-anchor": "middle", class: "axis-label",
      transform: `rotate(-90 14 ${my})` }, "calm  ←  arousal  →  energetic"));
    map.append(pointsLayer, labelsLayer);
  })();
  const inside = (b) => b.x0 >= PL + 2 && b.x1 <= SIZE - PR - 2 && b.y0 >= PT + 2 && b.y1 <= SIZE - PB - 2;

  const measure = document.createElement("canvas").getContext("2d");
  function textWidth(text, font = "11px") {
    measure.font = `${font} ${getComputedStyle(document.documentElement).fontFamily}`;
    return measure.measureText(text).width;
  }
  function label(name) { const t = stem(name); return t.length > 24 ? t.slice(0, 23) + "…" : t; }

  let mapSig = "";
  function renderMap() {
    const songs = state.songs.filter(analysed);
    const sig = JSON.stringify(songs.map((s) => [s.id, s.name, s.valence, s.arousal, s.mood, s.quadrant, s.unusual]));
    if (sig !== mapSig) {
      mapSig = sig;
      drawPoints(songs);
    }
    for (const [id, g] of state.points) {
      const s = state.byId.get(id);
      g.classList.toggle("dim", !!s && !matches(s));
    }
  }
  function drawPoints(songs) {
    R = songs.length > 300 ? 4 : songs.length > 100 ? 5 : 6;
    state.points.clear();
    pointsLayer.replaceChildren();
    labelsLayer.replaceChildren();
    const clamp = (v) => Math.max(-1, Math.min(1, v));
    const placed = songs.map((s) => ({ s, x: X(clamp(s.valence)), y: Y(clamp(s.arousal)) }));
    dodge(placed);
    if (!placed.length) {
      const x = PL + (SIZE - PL - PR) / 2, y = PT + (SIZE - PT - PB) / 2 + 4;
      labelsLayer.append(svg("text", { x, y, class: "axis-label", "text-anchor": "middle" },
        "Each analysed song lands here"));
    }
    for (const p of placed) {
      const colour = S.moodColour(p.s);
      const g = svg("g", { class: "point", dataset: { testid: "va-point", songId: String(p.s.id) }, tabindex: 0,
        role: "link", "aria-label": `${p.s.name}: ${S.moodWords(p.s) || "no mood"}${p.s.unusual ? ", unusual" : ""}` });
      if (p.s.unusual) {
        g.append(svg("circle", { cx: p.x, cy: p.y, r: R + 4, fill: "none", stroke: colour, "stroke-width": 1.5,
          "stroke-dasharray": "2.5 2.5", class: "ring" }));
        g.append(svg("circle", { cx: p.x, cy: p.y, r: R, fill: "#161a21", stroke: colour, "stroke-width": 2.2,
          class: "dot" }));
      } else {
        g.append(svg("circle", { cx: p.x, cy: p.y, r: R, fill: colour, stroke: "#0e1014", "stroke-width": 1.5,
          class: "dot" }));
      }
      g.addEventListener("mouseenter", () => { showTip(p); highlight(p.s.id, true); });
      g.addEventListener("mouseleave", () => { tip.hidden = true; highlight(p.s.id, false); });
      g.addEventListener("focus", () => showTip(p));
      g.addEventListener("blur", () => { tip.hidden = true; });
      g.addEventListener("click", () => { window.location.href = `/songs/${p.s.id}`; });
      g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") window.location.href = `/songs/${p.s.id}`; });
      pointsLayer.append(g);
      state.points.set(p.s.id, g);
    }
    placeLabels(placed);
  }
  // Songs the model is sure of sit at the same corner: nudge overlapping dots apart (a few pixels, never across the
  // axes) so each stays visible and clickable; the tooltip gives the exact values.
  function dodge(points) {
    if (points.length < 2 || points.length > 800) return;
    const min = 2 * R + 1.5, w = SIZE - PL - PR, h = SIZE - PT - PB, mx = PL + w / 2, my = PT + h / 2;
    const homes = points.map((p) => [p.x, p.y]);
    for (let round = 0; round < 60; round++) {
      let moved = false;
      for (let i = 0; i < points.length; i++) {
        for (let j = i + 1; j < points.length; j++) {
          const a = points[i], b = points[j];
          let dx = b.x - a.x, dy = b.y - a.y, d = Math.hypot(dx, dy);
          if (d >= min) continue;
          if (d < 1e-6) { const t = (i * 2.399 + j) % (2 * Math.PI); dx = Math.cos(t); dy = Math.sin(t); d = 1; }
          const push = (min - d) / 2 + 0.01, ux = dx / d, uy = dy / d;
          a.x -= ux * push; a.y -= uy * push; b.x += ux * push; b.y += uy * push;
          moved = true;
        }
      }
      points.forEach((p, k) => {  // stay inside the frame and in the song's own quadrant
        const [hx, hy] = homes[k];
        const lox = hx < mx ? PL + R + 1 : mx + R, hix = hx < mx ? mx - R : SIZE - PR - R - 1;
        const loy = hy < my ? PT + R + 1 : my + R, hiy = hy < my ? my - R : SIZE - PB - R - 1;
        p.x = Math.min(hix, Math.max(lox, p.x));
        p.y = Math.min(hiy, Math.max(loy, p.y));
      });
      if (!moved) break;
    }
  }
  // Greedy labelling: the most isolated points first; each tries places around its dot, nearest first, and keeps
  // the first box that stays inside the plot and touches no placed label and no other dot. The rest show on hover.
  function placeLabels(points) {
    if (points.length > 400) return;
    // the quadrant names are obstacles too
    const boxes = [...map.querySelectorAll(".quad-label")].map((t) => {
      const w = textWidth(t.textContent, "650 12px"), x = Number(t.getAttribute("x")), y = Number(t.getAttribute("y"));
      const x0 = t.getAttribute("text-anchor") === "end" ? x - w : x;
      return { x0: x0 - 3, x1: x0 + w + 3, y0: y - 13, y1: y + 4 };
    });
    const hit = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
    const dots = points.map((p) => ({ x0: p.x - R - 1, x1: p.x + R + 1, y0: p.y - R - 1, y1: p.y + R + 1, p }));
    const gap = (p) => Math.min(Infinity,
      ...points.filter((q) => q !== p).map((q) => Math.hypot(q.x - p.x, q.y - p.y)));
    const order = points.map((p) => ({ p, g: gap(p) })).sort((a, b) => b.g - a.g).map((o) => o.p);
    for (const p of order) {
      const text = label(p.s.name), w = textWidth(text), h = 12;
      // beside the dot, then above or below it, then beside it one and two lines up or down (with a leader line)
      const tries = [[p.x + R + 4, p.y - h / 2, 0], [p.x - R - 4 - w, p.y - h / 2, 0],
        [p.x - w / 2, p.y - R - 3 - h, 0], [p.x - w / 2, p.y + R + 3, 0]];
      for (const k of [1, -1, 2, -2]) {
        tries.push([p.x + R + 6, p.y - h / 2 + k * (h + 3), 1], [p.x - R - 6 - w, p.y - h / 2 + k * (h + 3), 1]);
      }
      for (const [x0, y0, leader] of tries) {
        const box = { x0, y0, x1: x0 + w, y1: y0 + h };
        if (!inside(box)) continue;
        if (boxes.some((b) => hit(b, box)) || dots.some((d) => d.p !== p && hit(d, box))) continue;
        boxes.push(box);
        if (leader) {
          const lx = x0 > p.x ? x0 - 1 : x0 + w + 1, ly = Math.min(Math.max(p.y, y0 + 2), y0 + h - 2);
          labelsLayer.append(svg("line", { x1: p.x, y1: p.y, x2: lx, y2: ly, class: "leader" }));
        }
        labelsLayer.append(svg("text", { x: x0, y: y0 + h - 2, class: "point-label",
          dataset: { songId: String(p.s.id) } }, text));
        break;
      }
    }
  }
  function showTip(p) {
    const box = map.getBoundingClientRect(), scale = box.width / SIZE;
    const mood = S.moodWords(p.s) || "no mood";
    tip.replaceChildren(el("b", {}, p.s.name),
      el("span", {}, `${mood} · valence ${S.signed(p.s.valence)} · arousal ${S.signed(p.s.arousal)}`),
      p.s.unusual ? el("div", {}, el("span", { class: "badge" }, "unusual")) : null);
    tip.hidden = false;
    const left = p.x * scale + 12, top = p.y * scale + 12;
    tip.style.left = Math.min(left, box.width - tip.offsetWidth - 4) + "px";
    tip.style.top = (top + tip.offsetHeight > box.height ? p.y * scale - tip.offsetHeight - 10 : top) + "px";
  }
  function highlight(id, on) {
    const g = state.points.get(id), row = state.rows.get(id);
    if (g) { g.classList.toggle("hot", on); if (on) pointsLayer.append(g); }
    if (row) row.tr.classList.toggle("hot", on);
  }

  // -- uploads ---------------------------------------------------------------------------------------------------
  const list = $("uploads"), input = $("upload-input"), zone = $("drop-zone");
  function enqueue(files) {
    for (const file of files) {
      const li = el("li", { class: "upload waiting", dataset: { testid: "upload" } },
        el("div", { class: "u-name" }, el("span", {}, file.name), el("span", { class: "u-size" }, S.bytes(file.size))),
        el("div", { class: "progress" }, el("i")), el("div", { class: "u-state" }, "waiting"));
      const u = { file, li, state: "waiting", id: null };
      state.uploads.push(u);
      list.append(li);
    }
    pump();
  }
  function setUpload(u, stateName, text, fraction) {
    u.state = stateName;
    u.li.className = `upload ${stateName}`;
    u.li.querySelector(".u-state").textContent = text;
    if (fraction !== undefined) u.li.querySelector(".progress > i").style.width = `${Math.round(100 * fraction)}%`;
    if ((stateName === "done" || stateName === "failed") && !u.li.querySelector(".icon-button")) {
      const close = el("button", { class: "icon-button", type: "button", title: "Dismiss", "aria-label": "Dismiss",
        onclick: () => dismiss(u) }, "×");
      u.li.querySelector(".u-state").append(" ", close);
    }
    if (stateName === "done") setTimeout(() => dismiss(u), 6000);
  }
  function dismiss(u) {
    u.li.remove();
    state.uploads = state.uploads.filter((x) => x !== u);
  }
  function pump() {
    while (state.active < PARALLEL_UPLOADS) {
      const u = state.uploads.find((x) => x.state === "waiting");
      if (!u) break;
      state.active += 1;
      upload(u).finally(() => { state.active -= 1; pump(); refresh(); });
    }
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, POLL_BUSY_MS);
  }
  function upload(u) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      const form = new FormData();
      form.append("files", u.file, u.file.name);
      xhr.open("POST", "/api/songs");
      for (const [k, v] of Object.entries(S.authHeaders())) xhr.setRequestHeader(k, v);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (ev) => {
        if (!ev.lengthComputable) return;
        setUpload(u, "uploading", `uploading ${Math.round((100 * ev.loaded) / ev.total)} %`, ev.loaded / ev.total);
      };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
        if (xhr.status >= 200 && xhr.status < 300 && body && Array.isArray(body.songs) && body.songs.length) {
          const song = body.songs[0];
          u.id = song.id;
          followSong(u, song);
        } else {
          const msg = body && body.error ? body.error : `upload refused (${xhr.status})`;
          setUpload(u, "failed", msg, 1);
        }
        resolve();
      };
      xhr.onerror = () => {
        setUpload(u, "failed", "the upload broke off: is the server still running?", 1);
        resolve();
      };
      setUpload(u, "uploading", "uploading 0 %", 0);
      xhr.send(form);
    });
  }
  function followSong(u, song) {
    if (song.status === "done") setUpload(u, "done", "done · " + (S.moodWords(song) || "no mood"), 1);
    else if (song.status === "failed") {
      u.reason = song.error || null;  // the upload's answer has no reason; the next poll brings it
      setUpload(u, "failed", song.error ? "failed: " + song.error : "failed", 1);
    }
    else setUpload(u, "analysing", song.status === "analysing" ? "analysing…" : "uploaded · queued", 1);
  }
  function syncUploads() {
    for (const u of state.uploads) {
      if (u.id === null || u.state === "done" || (u.state === "failed" && u.reason)) continue;
      const song = state.byId.get(u.id);
      if (song) followSong(u, song);
    }
  }
  input.addEventListener("change", () => { enqueue([...input.files]); input.value = ""; });
  // Drop anywhere on the page counts; the zone lights up while files hover over the window.
  let depth = 0;
  window.addEventListener("dragenter", (ev) => { if (hasFiles(ev)) { depth += 1; zone.classList.add("over"); } });
  window.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("over");
  });
  window.addEventListener("dragover", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "copy";
  });
  window.addEventListener("drop", async (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth = 0;
    zone.classList.remove("over");
    const entries = [...ev.dataTransfer.items].map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null));
    if (!entries.some((e) => e && e.isDirectory)) { enqueue([...ev.dataTransfer.files]); return; }
    try {
      enqueue(await filesIn(entries.filter(Boolean)));  // a dropped folder: the audio files in it, at any depth
    } catch (err) {
      S.showError(`Could not read the dropped folder: ${err.message || err}`);
    }
  });
  const AUDIO = /\.(mp3|wav|flac|ogg|oga|opus|m4a|aac|aiff?|wma)$/i;
  async function filesIn(entries) {
    const out = [];
    for (const entry of entries) {
      if (entry.isFile) {
        if (AUDIO.test(entry.name) || entries.length === 1) out.push(await new Promise((ok, no) => entry.file(ok, no)));
      } else if (entry.isDirectory) {
        const reader = entry.createReader();
        for (;;) {  // readEntries answers in batches until an empty one
          const batch = await new Promise((ok, no) => reader.readEntries(ok, no));
          if (!batch.length) break;
          out.push(...(await filesIn(batch.filter((e) => e.isDirectory || AUDIO.test(e.name)))));
        }
      }
    }
    return out;
  }
  function hasFiles(ev) { return ev.dataTransfer && [...ev.dataTransfer.types].includes("Files"); }

  refresh();
})();
