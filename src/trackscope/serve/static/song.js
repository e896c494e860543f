/* A song's page: facts, the lanes over time (waveform, mel spectrogram, mood timeline, why this mood) under one
   playhead that follows the <audio> player, probabilities, tags, the analyses kept, downloads and delete. */
"use strict";
(function () {
  const S = window.Studio;
  const { el, svg } = S;
  const id = S.CONFIG.song_id;
  const $ = (x) => document.getElementById(x);
  const player = $("player"), lanes = $("lanes"), playhead = $("playhead"), tip = $("lane-tip");
  let song = null, timer = null, melLoaded = false;

  async function load() {
    clearTimeout(timer);
    try {
      song = await S.api(`/api/songs/${encodeURIComponent(id)}`);
      S.showError(null);
      render();
    } catch (err) {
      S.showError(err.status === 404 ? "This song is not in the workspace (deleted?)." : err.message);
      if (!song) $("song-title").textContent = "Song not found";
      if (err.status === 404) return;
    }
    if (!song || song.status === "queued" || song.status === "analysing") timer = setTimeout(load, 1000);
  }

  const total = () => (Number.isFinite(player.duration) && player.duration > 0 ? player.duration
    : S.isNum(song && song.duration) && song.duration > 0 ? song.duration : 0);
  const mmss = (t) => S.duration(t);

  function render() {
    document.title = `${song.name} · trackscope studio`;
    $("song-title").textContent = song.name;
    const line = $("mood-line");
    line.replaceChildren();
    if (song.status === "done") {
      line.append(S.moodChip(song, "song-mood"));
      const probs = song.probabilities || {};
      const conf = Math.max(0, ...Object.values(probs).filter(S.isNum));
      if (conf) line.append(el("span", {}, `${Math.round(conf * 100)} % confident`));
      if (song.unusual) {
        line.append(el("span", { class: "badge", dataset: { testid: "song-unusual" } }, "unusual"),
          el("span", { class: "small" },
            "this audio is unlike the music the mood model learnt from: its mood is a guess"));
      }
    } else {
      const label = { queued: "queued", analysing: "analysing…", failed: "failed" }[song.status] || song.status;
      line.append(el("span", { class: `chip status ${song.status}`, dataset: { testid: "song-mood" } }, label));
    }
    const note = $("status-note");
    note.hidden = song.status === "done";
    note.classList.toggle("error", song.status === "failed");
    note.textContent = song.status === "failed" ? `This file could not be analysed: ${song.error || "no reason given"}`
      : song.status === "done" ? "" : "Analysing this song: the page fills in by itself when it is done.";
    for (const part of ["track", "facts", "details"]) $(part).hidden = song.status === "failed";  // nothing to show
    if (song.status !== "failed" && !player.getAttribute("src")) {
      player.src = `/api/songs/${encodeURIComponent(id)}/audio`;
    }
    renderFacts();
    renderWaveform();
    renderMel();
    renderTimeline();
    renderWhy();
    renderAxis();
    renderProbabilities();
    renderTags();
    renderAnalyses();
    updatePlayhead();
  }

  function renderFacts() {
    const facts = [
      ["Key", song.key || "–"],
      ["Tempo", S.isNum(song.tempo) ? [String(Math.round(song.tempo)), el("small", {}, "BPM")] : "–"],
      ["Loudness", S.isNum(song.loudness_lufs) ? [S.fixed(song.loudness_lufs, 1), el("small", {}, "LUFS")] : "–"],
      ["Length", S.duration(song.duration)],
      ["Arousal", S.signed(song.arousal)],
      ["Valence", S.signed(song.valence)],
      ["Novelty", S.isNum(song.novelty)
        ? [S.fixed(song.novelty, 2), song.unusual ? el("small", {}, "unusual") : null] : "–"],
    ];
    if (S.isNum(song.hit_potential)) facts.splice(4, 0, ["Hit potential", S.percent(song.hit_potential)]);
    $("facts").replaceChildren(...facts.map(([k, v]) => el("div",
      { dataset: { testid: `fact-${k.toLowerCase().replace(/ /g, "-")}` } }, el("dt", {}, k), el("dd", {}, v))));
  }

  // -- lanes -----------------------------------------------------------------------------------------------------
  function renderWaveform() {
    const box = $("waveform");
    const w = song.waveform;
    box.replaceChildren();
    if (!w || !Array.isArray(w.lo) || !w.lo.length) return;
    const n = w.lo.length, H = 40, A = 37;
    const xs = (i) => (n === 1 ? 500 : (1000 * i) / (n - 1)).toFixed(1);
    const top = w.hi.map((v, i) => `${xs(i)},${(H - A * v).toFixed(1)}`);
    const bottom = w.lo.map((v, i) => `${xs(i)},${(H - A * v).toFixed(1)}`).reverse();
    const d = `M${top.join("L")}L${bottom.join("L")}Z`;
    const clip = svg("clipPath", { id: "played-clip" },
      svg("rect", { id: "played-rect", x: 0, y: 0, width: 0, height: 80 }));
    box.append(svg("defs", {}, clip), svg("path", { d }),
      svg("path", { d, class: "played", "clip-path": "url(#played-clip)" }),
      svg("line", { x1: 0, x2: 1000, y1: H, y2: H, stroke: "#ffffff18", "stroke-width": 1 }));
  }
  function renderMel() {
    const img = $("mel");
    if (song.status !== "done" || melLoaded) return;
    melLoaded = true;
    img.parentElement.classList.remove("missing");
    img.src = `/api/songs/${encodeURIComponent(id)}/mel.webp?v=${Date.now()}`;
  }
  $("mel").addEventListener("error", () => {
    if (song && song.status === "done") {
      $("mel").parentElement.classList.add("missing");
      $("mel").alt = "no spectrogram for this song";
    }
  });
  function segment(start, length, item, dur, extra = {}) {
    const words = S.moodWords(item);
    return el("div", {
      class: "seg" + (words === null ? " silent" : ""),
      style: { left: `${(100 * start) / dur}%`, width: `${(100 * length) / dur}%`, "--c": S.moodColour(item),
        ...(extra.style || {}) },
      dataset: extra.dataset || {},
    }, extra.text === undefined ? "" : extra.text);
  }
  function renderTimeline() {
    const box = $("mood-timeline");
    const dur = total();
    const windows = Array.isArray(song.windows) ? song.windows : [];
    box.replaceChildren();
    if (!dur) return;
    const width = box.clientWidth || 800;
    for (const w of windows) {
      const words = S.moodWords(w);
      const conf = S.isNum(w.confidence) ? w.confidence : 1;
      const px = (width * w.duration) / dur;
      const seg = segment(w.start, w.duration, w, dur, {
        text: px > 90 ? (words === null ? "silent" : words) : "",
        dataset: { testid: "timeline-segment",
          tip: `${mmss(w.start)}–${mmss(w.start + w.duration)} · ${words === null ? "silent" : words}`
            + (words === null ? "" : ` · ${Math.round(conf * 100)} % sure`) + (w.unusual ? " · unusual" : "") },
        style: { opacity: String(0.4 + 0.6 * conf) },
      });
      box.append(seg);
    }
  }
  // The song's stretches (tasks/mood/why.py): [{start, end, effects: {class: Δp}, toward}], Δp > 0 pulling toward
  // that class. Flattened to one entry per (stretch, class) that pulls; other shapes ({start, end, mood, weight})
  // are read too.
  function stretches(why) {
    const list = Array.isArray(why) ? why : [];
    const out = [];
    for (const it of list) {
      const start = Number(it.start), end = Number(it.end ?? start + Number(it.duration ?? 0));
      if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) continue;
      const effects = it.effects && typeof it.effects === "object" ? it.effects
        : { [it.mood ?? it.toward]: Number(it.weight ?? it.effect ?? 1) };
      for (const [mood, effect] of Object.entries(effects)) {
        if (S.isNum(effect) && effect > 1e-4 && mood !== "undefined") out.push({ start, end, mood, weight: effect });
      }
    }
    return out;
  }
  const signedEffect = (e) => "+" + e.toFixed(e >= 0.05 ? 2 : e >= 0.005 ? 3 : 4);
  function renderWhy() {
    const box = $("why");
    box.replaceChildren();
    const dur = total();
    const list = stretches(song.why);
    if (song.status !== "done") { box.append(el("div", { class: "none" }, "—")); return; }
    if (!list.length || !dur) {
      box.append(el("div", { class: "none" }, !Array.isArray(song.why)
        ? "The mood model gives no per-stretch explanation for this song."
        : song.why.length === 0 ? "Too short to tell stretches apart: the whole song is one 3-s patch."
        : "No stretch pulls clearly toward any mood: the whole song carries it."));
      $("why-text").textContent = "";
      return;
    }
    const top = Math.max(...list.map((s) => s.weight));
    const moods = [];
    for (const s of list) { const c = S.moodClass(s); if (!moods.includes(c)) moods.push(c); }
    const classes = S.CONFIG.classes || [];
    moods.sort((a, b) => (classes.indexOf(a) + 99) % 99 - (classes.indexOf(b) + 99) % 99);
    for (const c of moods) {
      const row = el("div", { class: "why-row", dataset: { testid: "why-row", mood: c } });
      const first = list.find((s) => S.moodClass(s) === c);
      row.append(el("span", { class: "why-name" }, S.moodWords(first) || c));
      for (const s of list.filter((x) => S.moodClass(x) === c)) {
        row.append(segment(s.start, s.end - s.start, s, dur, {
          style: { opacity: String(0.25 + 0.75 * (s.weight / top)) },
          dataset: { testid: "why-stretch", tip: `pulls toward ${S.moodWords(s)} (${signedEffect(s.weight)})` },
        }));
      }
      box.append(row);
    }
    // in words: the stretch that pulls most toward the song's mood, and toward the strongest other mood
    const own = S.moodClass(song);
    const bestFor = (c) => list.filter((x) => S.moodClass(x) === c).sort((a, b) => b.weight - a.weight)[0];
    const parts = [];
    const mine = bestFor(own);
    const said = (x) => `${mmss(x.start)}–${mmss(x.end)}`;
    if (mine) parts.push(`${said(mine)} pulls most toward ${S.moodWords(mine)} (${signedEffect(mine.weight)}).`);
    else if (own) parts.push(`No single stretch pulls toward ${S.moodWords(song)}: the whole song carries it.`);
    const other = list.filter((x) => S.moodClass(x) !== own).sort((a, b) => b.weight - a.weight)[0];
    if (other) parts.push(`${said(other)} pulls toward ${S.moodWords(other)} (${signedEffect(other.weight)}).`);
    $("why-text").textContent = parts.join(" ");
  }
  function renderAxis() {
    const dur = total();
    const box = $("axis");
    box.replaceChildren();
    if (!dur) return;
    const step = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => dur / s <= 10) || 1200;
    for (let t = 0; t <= dur - step * 0.4; t += step) {
      box.append(el("span", { style: { left: `${(100 * t) / dur}%` } }, mmss(t)));
    }
  }

  // -- cards -----------------------------------------------------------------------------------------------------
  function renderProbabilities() {
    const probs = song.probabilities || {};
    const classes = (S.CONFIG.classes || []).filter((c) => c in probs);
    for (const c of Object.keys(probs)) if (!classes.includes(c)) classes.push(c);
    $("probabilities").replaceChildren(...classes.map((c) => el("div",
      { class: "bar-row", style: { "--c": S.colourOfClass(c) } },
      el("span", {}, (S.CONFIG.quadrant_words || {})[c] || c),
      el("span", { class: "track-bg" }, el("i", { style: { width: `${(100 * probs[c]).toFixed(1)}%` } })),
      el("span", { class: "pct" }, S.percent(probs[c])))));
    if (!classes.length) {
      $("probabilities").append(el("p", { class: "muted" }, song.status === "done" ? "No mood (silent)." : "—"));
    }
  }
  function renderTags() {
    const tags = Array.isArray(song.tags) ? song.tags : [];
    $("tags").replaceChildren(...tags.map((t) => el("li", { dataset: { testid: "tag" } }, t.tag,
      S.isNum(t.score) ? el("span", {}, S.fixed(t.score, 2)) : null)));
    if (!tags.length) $("tags").append(el("li", { class: "muted" }, song.status === "done" ? "no tags" : "—"));
  }
  function renderAnalyses() {
    const rows = Array.isArray(song.analyses) ? song.analyses : [];
    $("analyses-card").hidden = rows.length < 2;
    $("analyses").querySelector("tbody").replaceChildren(...rows.map((a) => el("tr", {},
      el("td", {}, a.mood_model || "–"), el("td", {}, a.popularity_model || "–"),
      el("td", {}, S.moodWords(a) || "–"),
      el("td", {}, a.created ? new Date(a.created).toLocaleString() : "–"))));
  }

  // -- the player and the playhead -------------------------------------------------------------------------------
  function updatePlayhead() {
    const dur = total();
    const f = dur ? Math.min(1, Math.max(0, player.currentTime / dur)) : 0;
    lanes.style.setProperty("--f", f.toFixed(5));
    playhead.dataset.time = player.currentTime.toFixed(2);
    const rect = $("played-rect");
    if (rect) rect.setAttribute("width", (1000 * f).toFixed(1));
    $("clock").textContent = `${S.clock(player.currentTime)} / ${mmss(dur)}`;
    $("play-icon").setAttribute("d", player.paused ? "M8 5v14l11-7z" : "M7 5h4v14H7zM13 5h4v14h-4z");
    $("play").setAttribute("aria-label", player.paused ? "Play" : "Pause");
  }
  function tick() { updatePlayhead(); if (!player.paused) requestAnimationFrame(tick); }
  for (const ev of ["timeupdate", "seeked", "seeking", "pause", "ended", "loadedmetadata"]) {
    player.addEventListener(ev, updatePlayhead);
  }
  player.addEventListener("play", () => requestAnimationFrame(tick));
  player.addEventListener("loadedmetadata", () => { if (song) { renderTimeline(); renderWhy(); renderAxis(); } });
  player.addEventListener("error", () => {
    if (song && song.status !== "failed") {
      S.showError("The audio cannot be played here (is the file still in the workspace?).");
    }
  });
  $("play").addEventListener("click", () => {
    if (player.paused) player.play().catch((err) => S.showError(`Cannot play: ${err.message}`));
    else player.pause();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.code !== "Space" || ev.target.closest("input, select, button, audio, a, dialog")) return;
    ev.preventDefault();
    $("play").click();
  });
  // Click anywhere on the lanes: listen from there. Hover: a cursor line and what is under it.
  function fraction(ev) {
    const body = lanes.querySelector(".lane-body").getBoundingClientRect();
    return { f: (ev.clientX - body.left) / body.width, body };
  }
  lanes.addEventListener("click", (ev) => {
    if (!ev.target.closest(".lane-body")) return;
    const { f } = fraction(ev);
    const dur = total();
    if (!dur || f < 0 || f > 1) return;
    player.currentTime = f * dur;
    updatePlayhead();
  });
  lanes.addEventListener("mousemove", (ev) => {
    const { f, body } = fraction(ev);
    const line = $("hover-line");
    const dur = total();
    if (!dur || f < 0 || f > 1 || !ev.target.closest(".lane-body")) { line.hidden = true; tip.hidden = true; return; }
    const outer = lanes.getBoundingClientRect();
    line.hidden = false;
    line.style.left = `${ev.clientX - outer.left}px`;
    const seg = ev.target.closest("[data-tip]");
    tip.replaceChildren(el("b", {}, mmss(f * dur)), seg ? el("span", {}, seg.dataset.tip) : null);
    tip.hidden = false;
    const x = ev.clientX - outer.left + 12;
    tip.style.left = `${Math.min(x, outer.width - tip.offsetWidth - 4)}px`;
    tip.style.top = `${ev.clientY - outer.top + 14}px`;
    void body;
  });
  lanes.addEventListener("mouseleave", () => { $("hover-line").hidden = true; tip.hidden = true; });
  window.addEventListener("resize", () => { if (song) renderTimeline(); });

  $("song-delete").addEventListener("click", async () => {
    try {
      if (await S.deleteSong(song || { id, name: $("song-title").textContent })) window.location.href = "/";
    } catch (err) { S.showError(err.message); }
  });

  load();
})();
