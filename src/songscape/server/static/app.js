/* songscape map page: a 3D scatter (plotly.js) of the library, selection, playback,
 * nearest songs, a distance filter and text search. No network beyond this server.
 *
 * State lives in `S`; `render()` rebuilds the plot from it with Plotly.react (the camera
 * is kept through `uirevision`). Every text that comes from the library goes into the
 * DOM through textContent, never as HTML.
 */
"use strict";

const PALETTE = [
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#86bcf6", "#d4a6c8", "#8cd17d", "#f1ce63", "#a0cbe8",
  "#ffbe7d", "#ff6f61", "#6b9ac4", "#c2b280", "#49beaa",
];
const OTHER_COLOUR = "#7f8796";
const MAX_CATEGORIES = 19; // the rest is drawn as one "other" trace
const NEIGHBOURS = 3;

const S = {
  map: null, // the /api/map payload
  index: new Map(), // track id -> point index
  colour: "genre",
  method: "umap",
  hidden: new Set(), // legend categories switched off
  selected: null, // point index
  selectedTrack: null, // /api/tracks/{id}
  neighbours: [], // /similar results
  hits: [], // search result ids
  distance: null, // Float64Array aligned with points, or null
  threshold: null, // number, or null = no distance filter
  ready: false,
};

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

async function api(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  let body = null;
  try {
    body = await res.json();
  } catch (_) {
    body = null;
  }
  if (!res.ok) {
    throw new Error((body && body.error) || `${res.status} ${res.statusText}`);
  }
  return body;
}

function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}

function fmt(value, digits = 1, unit = "") {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return `${value.toFixed(digits)}${unit}`;
  return `${value}${unit}`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function status(text) {
  $("#map-status").textContent = text;
}

function trackName(t) {
  const title = t.display_title || t.title || t.filename || t.id;
  return t.artist ? `${title} — ${t.artist}` : title;
}

// -- colour fields ---------------------------------------------------------------------

function fieldValues(name) {
  const f = S.map.fields[name];
  if (name === "cluster") return f.map((c) => `cluster ${c + 1}`);
  return f;
}

function fieldKind(name) {
  const spec = S.map.colour_fields.find((c) => c.name === name);
  return spec ? spec.kind : "categorical";
}

function categoryKey(v) {
  return v === null || v === undefined || v === "" ? "(unknown)" : String(v).toLowerCase();
}

// Categories by frequency, compared without case ("Jazz" and "jazz" are one); each is
// labelled with its most frequent spelling.
function categoriesOf(values) {
  const counts = new Map();
  const spellings = new Map();
  for (const v of values) {
    const key = categoryKey(v);
    counts.set(key, (counts.get(key) || 0) + 1);
    const text = v === null || v === undefined || v === "" ? "(unknown)" : String(v);
    const bySpelling = spellings.get(key) || new Map();
    bySpelling.set(text, (bySpelling.get(text) || 0) + 1);
    spellings.set(key, bySpelling);
  }
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = sorted.slice(0, MAX_CATEGORIES).map(([k]) => k);
  const label = new Map([...spellings.entries()].map(([k, m]) =>
    [k, [...m.entries()].sort((a, b) => b[1] - a[1])[0][0]]));
  return { shown, label, other: sorted.length > MAX_CATEGORIES, nOther: sorted.length - shown.length };
}

// -- the plot --------------------------------------------------------------------------

function visibleMask() {
  const n = S.map.n;
  const keep = new Uint8Array(n).fill(1);
  if (S.threshold !== null && S.distance) {
    for (let i = 0; i < n; i++) {
      if (!(S.distance[i] <= S.threshold)) keep[i] = 0;
    }
  }
  if (S.selected !== null) keep[S.selected] = 1;
  return keep;
}

function hoverText(i) {
  const f = S.map.fields;
  const title = escapeHtml(f.title[i]);
  const artist = f.artist[i] ? `<br>${escapeHtml(f.artist[i])}` : "";
  const value = S.colour === "title" ? "" : fieldValues(S.colour)[i];
  const extra = value === null || value === undefined ? "" : `<br><i>${escapeHtml(value)}</i>`;
  return `<b>${title}</b>${artist}${extra}`;
}

function markerSize() {
  const n = S.map ? S.map.n : 0;
  return n > 20000 ? 1.8 : n > 5000 ? 2.5 : n > 500 ? 3.5 : 6;
}

function pointsTrace(idx, name, colour, extra = {}) {
  const m = S.map;
  return Object.assign({
    type: "scatter3d",
    mode: "markers",
    name,
    x: idx.map((i) => m.x[i]),
    y: idx.map((i) => m.y[i]),
    z: idx.map((i) => m.z[i]),
    customdata: idx,
    text: idx.map(hoverText),
    hovertemplate: "%{text}<extra></extra>",
    marker: { size: markerSize(), color: colour, opacity: 0.9, line: { width: 0 } },
  }, extra);
}

function buildTraces() {
  const keep = visibleMask();
  const traces = [];
  const n = S.map.n;
  const kind = fieldKind(S.colour);
  if (kind === "continuous") {
    const values = S.map.fields[S.colour];
    const withValue = [];
    const without = [];
    for (let i = 0; i < n; i++) {
      if (!keep[i]) continue;
      (values[i] === null || values[i] === undefined ? without : withValue).push(i);
    }
    traces.push(pointsTrace(withValue, `${S.colour}`, withValue.map((i) => values[i]), {
      marker: {
        size: markerSize(), opacity: 0.9, color: withValue.map((i) => values[i]),
        colorscale: "Viridis", showscale: true,
        colorbar: { title: { text: "BPM" }, thickness: 12, len: 0.5, x: 1.0 },
      },
      showlegend: false,
    }));
    if (without.length) traces.push(pointsTrace(without, "(unknown)", OTHER_COLOUR));
  } else {
    const values = fieldValues(S.colour);
    const { shown, label, other, nOther } = categoriesOf(values);
    const slot = new Map(shown.map((c, k) => [c, k]));
    const groups = shown.map(() => []);
    const rest = [];
    for (let i = 0; i < n; i++) {
      if (!keep[i]) continue;
      const k = slot.get(categoryKey(values[i]));
      if (k === undefined) rest.push(i);
      else groups[k].push(i);
    }
    shown.forEach((cat, k) => {
      const colour = cat === "(unknown)" ? OTHER_COLOUR : PALETTE[k % PALETTE.length];
      traces.push(pointsTrace(groups[k], `${label.get(cat)} (${groups[k].length})`, colour, {
        legendgroup: cat, meta: cat, visible: S.hidden.has(cat) ? "legendonly" : true,
      }));
    });
    if (other) {
      const cat = `other (${nOther} values)`;
      traces.push(pointsTrace(rest, `${cat}: ${rest.length}`, OTHER_COLOUR, {
        legendgroup: "__other", meta: "__other",
        visible: S.hidden.has("__other") ? "legendonly" : true,
      }));
    }
  }
  // Overlays: search hits, the nearest songs, the selection (drawn last, on top).
  const overlay = (idx, name, symbol, colour, size) => pointsTrace(idx, name, colour, {
    marker: { size, symbol, color: colour, opacity: 1, line: { width: 2, color: "#ffffff" } },
    meta: `__${name}`,
  });
  const hitIdx = S.hits.map((id) => S.index.get(id)).filter((i) => i !== undefined && keep[i]);
  if (hitIdx.length) traces.push(overlay(hitIdx, "search hits", "square", "#ffd166", 7));
  const nnIdx = S.neighbours.map((r) => S.index.get(r.id)).filter((i) => i !== undefined);
  if (nnIdx.length) traces.push(overlay(nnIdx, "nearest 3", "circle", "#06d6a0", 8));
  if (S.selected !== null) traces.push(overlay([S.selected], "selected", "diamond", "#ef476f", 11));
  return traces;
}

function layout() {
  const narrow = window.innerWidth < 760;
  // Faint grid planes without labels: depth cues while rotating, no meaningless numbers.
  const axis = {
    showgrid: true, gridcolor: "#26334d", zeroline: false, showline: false,
    showticklabels: false, ticks: "", title: { text: "" }, showspikes: false,
    showbackground: true, backgroundcolor: "#121a2a",
  };
  return {
    uirevision: "keep",
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    margin: { l: 0, r: 0, t: 0, b: 0 },
    font: { color: "#dfe5ef", size: narrow ? 10 : 12 },
    showlegend: true,
    legend: narrow
      ? { orientation: "h", x: 0, y: 0, yanchor: "top", bgcolor: "rgba(16,22,34,0.75)" }
      : { x: 0, y: 1, bgcolor: "rgba(16,22,34,0.75)", itemsizing: "constant" },
    hoverlabel: { bgcolor: "#1b2436", bordercolor: "#6cb4ff", font: { color: "#f3f6fb" } },
    scene: {
      uirevision: "keep",
      xaxis: axis, yaxis: axis, zaxis: axis,
      aspectmode: "cube",
      camera: { eye: narrow ? { x: 1.5, y: 1.5, z: 1.0 } : { x: 1.35, y: 1.35, z: 0.9 } },
      bgcolor: "rgba(0,0,0,0)",
    },
  };
}

const PLOT_CONFIG = {
  responsive: true,
  displaylogo: false,
  scrollZoom: true,
  modeBarButtonsToRemove: ["resetCameraLastSave3d"],
};

let renderQueued = false;
function render() {
  if (!S.map || renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    Plotly.react("map", buildTraces(), layout(), PLOT_CONFIG);
  });
}

function renderNow() {
  return Plotly.react("map", buildTraces(), layout(), PLOT_CONFIG);
}

// -- map loading -----------------------------------------------------------------------

async function loadMap() {
  const gd = $("#map");
  status(`Loading the ${S.method.toUpperCase()} map… (the first time, computing it can take a while)`);
  document.body.dataset.mapReady = "false";
  let map;
  try {
    map = await api(`/api/map?method=${encodeURIComponent(S.method)}`);
  } catch (err) {
    status(`Could not load the map: ${err.message}`);
    return;
  }
  S.map = map;
  S.index = new Map(map.ids.map((id, i) => [id, i]));
  if (S.selected !== null && S.selectedTrack) {
    const i = S.index.get(S.selectedTrack.id);
    S.selected = i === undefined ? null : i;
  }
  fillColourSelect(map.colour_fields);
  const used = map.method_used === "none" ? "no layout" : map.method_used.toUpperCase();
  status(map.n
    ? `${map.n.toLocaleString()} songs · ${used} of ${map.model} embeddings`
    : "The library has no analysed songs yet: run `songscape ingest FOLDER`.");
  const notes = $("#map-notes");
  notes.textContent = map.notes.join(" · ");
  notes.hidden = map.notes.length === 0;
  await renderNow();
  if (!gd.dataset.bound) {
    gd.dataset.bound = "1";
    gd.on("plotly_click", (ev) => {
      const p = ev && ev.points && ev.points[0];
      if (!p) return;
      const i = p.customdata !== undefined ? p.customdata : p.data.customdata[p.pointNumber];
      if (typeof i === "number") selectIndex(i);
    });
    gd.on("plotly_legendclick", (ev) => {
      const cat = ev.data[ev.curveNumber].meta;
      if (!cat || String(cat).startsWith("__") && cat !== "__other") return false;
      if (S.hidden.has(cat)) S.hidden.delete(cat);
      else S.hidden.add(cat);
      render();
      return false;
    });
    gd.on("plotly_legenddoubleclick", (ev) => {
      const cat = ev.data[ev.curveNumber].meta;
      if (!cat) return false;
      const all = ev.data.map((t) => t.meta).filter((m) => m && (!m.startsWith("__") || m === "__other"));
      const isolated = all.every((m) => (m === cat) !== S.hidden.has(m));
      S.hidden = new Set(isolated ? [] : all.filter((m) => m !== cat));
      render();
      return false;
    });
  }
  S.ready = true;
  document.body.dataset.mapReady = "true";
  document.body.dataset.points = String(map.n);
}

function fillColourSelect(fields) {
  const select = $("#colour-by");
  if (select.options.length) return;
  for (const f of fields) select.append(el("option", { value: f.name, text: f.label }));
  select.value = S.colour;
}

// -- selection -------------------------------------------------------------------------

async function selectId(id) {
  const i = S.index.get(id);
  if (i !== undefined) return selectIndex(i);
  return selectTrack(id, null);
}

async function selectIndex(i) {
  return selectTrack(S.map.ids[i], i);
}

let selectSeq = 0;
async function selectTrack(id, i) {
  const seq = ++selectSeq;
  S.selected = i;
  S.neighbours = [];
  S.distance = null;
  S.threshold = null;
  resetSlider(true);
  render();
  const head = $("#info-head");
  head.replaceChildren(el("p", { class: "placeholder", text: "Loading…" }));
  let track;
  try {
    track = await api(`/api/tracks/${encodeURIComponent(id)}`);
  } catch (err) {
    head.replaceChildren(el("p", { class: "error", text: `Could not load the song: ${err.message}` }));
    $("#info-body").replaceChildren();
    return;
  }
  if (seq !== selectSeq) return; // another selection came later
  S.selectedTrack = track;
  showInfo(track);
  play(track, true);
  loadNeighbours(track.id);
  loadDistances(track.id);
}

function showInfo(t) {
  const facts = el("dl", { class: "facts" });
  const add = (name, value) => facts.append(
    el("div", {}, el("dt", { text: name }), el("dd", { text: value })));
  add("Album", t.album || "–");
  add("Genre", t.genre || "–");
  add("Tempo", fmt(t.tempo_bpm, 1, " BPM"));
  add("Key", t.key || "–");
  add("Loudness", fmt(t.loudness_lufs, 1, " LUFS"));
  add("Length", duration(t.duration_s));
  const tags = el("ul", { class: "tags", "aria-label": "Top tags" });
  for (const tag of (t.top_tags || []).slice(0, 6)) {
    const pct = Math.round(tag.probability * 100);
    const bar = el("span", { class: "bar", "aria-hidden": "true" }, el("span", { class: "fill" }));
    bar.firstChild.style.width = `${Math.max(2, pct)}%`;
    tags.append(el("li", {},
      el("span", { class: "tag-name", text: tag.name, title: tag.name }), bar,
      el("span", { class: "tag-p", text: `${pct}%` })));
  }
  $("#info-head").replaceChildren(
    el("h2", { id: "info-title", text: t.display_title || t.title || t.filename }),
    el("p", { id: "info-artist", class: "artist", text: t.artist || "unknown artist" }),
  );
  $("#info-body").replaceChildren(
    facts,
    el("h3", { text: "Top tags" }),
    tags.childNodes.length ? tags : el("p", { class: "muted", text: "no tags yet" }),
  );
}

function play(track, autoplay) {
  const player = $("#player");
  const start = track.highlight ? track.highlight.start_s : 0;
  player.src = track.audio_url;
  player.dataset.trackId = track.id;
  player.dataset.start = String(start);
  const seek = () => {
    if (start > 0) player.currentTime = start;
  };
  player.addEventListener("loadedmetadata", seek, { once: true });
  $("#now-playing").textContent = `${autoplay ? "Selected" : "Playing"}: ${trackName(track)}`
    + (track.highlight ? ` (from the highlight at ${duration(start)})` : "");
  player.play().catch(() => { /* autoplay may be refused; the controls are there */ });
}

async function loadNeighbours(id) {
  const list = $("#neighbours");
  list.replaceChildren(el("li", { class: "muted", text: "Finding the nearest songs…" }));
  try {
    const res = await api(`/api/tracks/${encodeURIComponent(id)}/similar?k=${NEIGHBOURS}`);
    if (!S.selectedTrack || S.selectedTrack.id !== id) return;
    S.neighbours = res.results;
    fillList(list, res.results, (r) => `similarity ${r.score.toFixed(2)}`);
    render();
  } catch (err) {
    list.replaceChildren(el("li", { class: "error", text: err.message }));
  }
}

function fillList(list, tracks, describe) {
  if (!tracks.length) {
    list.replaceChildren(el("li", { class: "muted", text: "No songs." }));
    return;
  }
  list.replaceChildren(...tracks.map((t) => {
    const name = trackName(t);
    return el("li", { "data-id": t.id },
      el("button", { type: "button", class: "pick", title: "Select this song",
                     onclick: () => selectId(t.id) },
        el("span", { class: "name", text: name }),
        el("span", { class: "muted small", text: describe(t) })),
      el("button", { type: "button", class: "play", "aria-label": `Play ${name}`,
                     onclick: () => play(t, false) }, "▶"));
  }));
}

// -- distance filter -------------------------------------------------------------------

async function loadDistances(id) {
  try {
    const res = await api(`/api/tracks/${encodeURIComponent(id)}/distances`);
    if (!S.selectedTrack || S.selectedTrack.id !== id) return;
    const d = new Float64Array(S.map.n).fill(Infinity);
    res.ids.forEach((tid, k) => {
      const i = S.index.get(tid);
      if (i !== undefined) d[i] = res.distance[k];
    });
    S.distance = d;
    let max = 0;
    for (const v of d) if (Number.isFinite(v) && v > max) max = v;
    const slider = $("#distance");
    slider.max = String(Math.max(0.01, Math.ceil(max * 100) / 100));
    slider.value = slider.max;
    slider.disabled = false;
    updateDistanceLabel();
  } catch (err) {
    $("#distance-value").textContent = `unavailable (${err.message})`;
  }
}

function countWithin(threshold) {
  let n = 0;
  for (const v of S.distance) if (v <= threshold) n++;
  return n;
}

function updateDistanceLabel() {
  const slider = $("#distance");
  const value = Number(slider.value);
  const all = S.threshold === null;
  const n = S.distance ? countWithin(value) : 0;
  $("#distance-value").textContent = all
    ? `all songs (max ${Number(slider.max).toFixed(2)})`
    : `≤ ${value.toFixed(3)} · ${n} song${n === 1 ? "" : "s"}`;
}

function onDistance() {
  const slider = $("#distance");
  const value = Number(slider.value);
  S.threshold = value >= Number(slider.max) ? null : value;
  updateDistanceLabel();
  render();
}

function resetSlider(disable) {
  const slider = $("#distance");
  slider.value = slider.max;
  if (disable) {
    slider.disabled = true;
    $("#distance-value").textContent = "loading…";
  } else {
    updateDistanceLabel();
  }
}

function resetFilters() {
  S.threshold = null;
  S.hidden.clear();
  S.hits = [];
  $("#search-results").replaceChildren();
  $("#search-intent").textContent = "";
  if (S.distance) resetSlider(false);
  render();
}

// -- search ----------------------------------------------------------------------------

async function search(ev) {
  ev.preventDefault();
  const q = $("#search-input").value.trim();
  const list = $("#search-results");
  if (!q) {
    list.replaceChildren(el("li", { class: "muted", text: "Type some words first." }));
    return;
  }
  list.replaceChildren(el("li", { class: "muted", text: "Searching…" }));
  try {
    const res = await api(`/api/search?q=${encodeURIComponent(q)}&k=20`);
    // Scores compare a track with the library average (tag z-scores, name boosts):
    // keep the tracks above it, or the best 5 when nothing is.
    const patterns = res.intent.patterns || [];
    const strong = patterns.includes("just_play") ? res.results
      : res.results.filter((r) => r.score > 0);
    const shown = strong.length ? strong : res.results.slice(0, 5);
    S.hits = shown.map((r) => r.id);
    const n = shown.length;
    $("#search-intent").textContent = `“${q}” understood as: ${patterns.join(", ") || "nothing in particular"}. `
      + `${n} song${n === 1 ? "" : "s"}${strong.length ? "" : " (weak matches)"}, marked in yellow.`;
    fillList(list, shown, (r) => `score ${r.score.toFixed(2)}`);
    render();
  } catch (err) {
    list.replaceChildren(el("li", { class: "error", text: err.message }));
  }
}

// -- start -----------------------------------------------------------------------------

async function loadSummary() {
  try {
    const s = await api("/api/stats");
    const mins = Math.round(s.total_duration_s / 60);
    $("#library-summary").textContent =
      `${s.by_status.ok.toLocaleString()} songs · ${s.artists} artists · ${mins} min of audio`;
  } catch (err) {
    $("#library-summary").textContent = `library unavailable: ${err.message}`;
  }
}

function start() {
  if (typeof Plotly === "undefined") {
    status("plotly.js did not load (is the `plotly` Python package installed?)");
    return;
  }
  $("#search-form").addEventListener("submit", search);
  $("#distance").addEventListener("input", onDistance);
  $("#reset").addEventListener("click", resetFilters);
  $("#reset-view").addEventListener("click", () => {
    Plotly.relayout("map", { "scene.camera": layout().scene.camera });
  });
  $("#colour-by").addEventListener("change", (ev) => {
    S.colour = ev.target.value;
    S.hidden.clear();
    render();
  });
  $("#method").addEventListener("change", (ev) => {
    S.method = ev.target.value;
    S.hidden.clear();
    loadMap();
  });
  window.addEventListener("resize", () => render());
  loadSummary();
  loadMap();
}

// For tests and the console: the state and the actions the page performs.
window.songscape = { state: S, selectId, selectIndex, render, search };

document.addEventListener("DOMContentLoaded", start);
