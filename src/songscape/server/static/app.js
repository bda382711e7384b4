/* songscape map page: a 3D scatter (plotly.js) of the library, named clusters, selection,
 * playback, the N nearest songs, text search and a shareable URL per selection. The
 * listening flows (queue, radio, path mode, hover previews, the energy curve) live in
 * listen.js. No network beyond this server.
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
const NEIGHBOURS = 5;
// Generic names that say nothing as a genre colour (also decided server-side for folders).
const MIN_COVERAGE = 0.5; // a field colours the map by default when this share has a value

const S = {
  map: null, // the /api/map payload
  index: new Map(), // track id -> point index
  colour: null, // chosen from the fields present when the map loads
  colourChosen: false, // the user (or the URL) picked one
  method: "umap",
  hidden: new Set(), // legend categories switched off
  selected: null, // point index
  selectedTrack: null, // /api/tracks/{id}
  neighbours: [], // /similar results
  hits: [], // search result ids
  lastQuery: "", // the words of the last search
  lastResults: [], // the search results shown
  distance: null, // Float64Array aligned with points, or null
  nearest: null, // number of nearest songs kept, or null = all songs
  rank: null, // Int32Array: rank of each point by distance (selection = 0), or null
  showLabels: true, // cluster names written in the scene
  history: [], // ids selected before the current one (for "previous", key p)
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
  if (name === "cluster") {
    const names = S.map.cluster_names || [];
    return f.map((c) => names[c] || `cluster ${c + 1}`);
  }
  return f;
}

function fieldKind(name) {
  const spec = S.map.colour_fields.find((c) => c.name === name);
  return spec ? spec.kind : "categorical";
}

function fieldLabel(name) {
  const spec = S.map.colour_fields.find((c) => c.name === name);
  return spec ? spec.label : name;
}

// The default colouring: the first informative field present — genre, then the top tag,
// then the clusters — where "informative" means at least MIN_COVERAGE of the points have
// a value and there are at least two values.
function defaultColour(map) {
  const offered = new Set(map.colour_fields.map((f) => f.name));
  for (const name of ["genre", "top_tag", "cluster"]) {
    const values = map.fields[name];
    if (!offered.has(name) || !values) continue;
    const known = values.filter((v) => v !== null && v !== undefined && v !== "");
    if (known.length >= MIN_COVERAGE * map.n && new Set(known.map(String)).size >= 2) return name;
  }
  return map.colour_fields.length ? map.colour_fields[0].name : "cluster";
}

// -- keys around the circle of fifths ------------------------------------------------
const PITCHES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

// Position 0..11 of a key on the circle of fifths (C = 0, G = 1, …); a minor key sits at
// its relative major (A minor = C). null for anything that is not "<note> major|minor".
function fifthsPosition(key) {
  const m = /^([A-G]#?)\s+(major|minor)$/i.exec(String(key || "").trim());
  if (!m) return null;
  let pc = PITCHES.indexOf(m[1].toUpperCase());
  if (pc < 0) return null;
  if (m[2].toLowerCase() === "minor") pc = (pc + 3) % 12;
  return (pc * 7) % 12;
}

// Hue around the wheel by fifths; majors light, minors dark.
function keyColour(key) {
  const pos = fifthsPosition(key);
  if (pos === null) return OTHER_COLOUR;
  const minor = /minor$/i.test(String(key).trim());
  return `hsl(${pos * 30}, ${minor ? 62 : 78}%, ${minor ? 42 : 62}%)`;
}

function categoryKey(v) {
  return v === null || v === undefined || v === "" ? "(unknown)" : String(v).toLowerCase();
}

// Categories by frequency, compared without case ("Jazz" and "jazz" are one); each is
// labelled with its most frequent spelling.
function categoriesOf(values, byKey = false) {
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
  const byFifths = (a, b) => {
    const pa = fifthsPosition(a[0]);
    const pb = fifthsPosition(b[0]);
    if (pa === null || pb === null) return (pa === null) - (pb === null);
    return pa - pb || (/minor/.test(a[0]) - /minor/.test(b[0]));
  };
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = sorted.slice(0, byKey ? 24 : MAX_CATEGORIES).map(([k]) => k);
  if (byKey) shown.sort((a, b) => byFifths([a], [b]));
  const label = new Map([...spellings.entries()].map(([k, m]) =>
    [k, [...m.entries()].sort((a, b) => b[1] - a[1])[0][0]]));
  return { shown, label, other: sorted.length > shown.length, nOther: sorted.length - shown.length };
}

// -- the plot --------------------------------------------------------------------------

function visibleMask() {
  const n = S.map.n;
  const keep = new Uint8Array(n).fill(1);
  if (S.nearest !== null && S.rank) {
    for (let i = 0; i < n; i++) {
      if (!(S.rank[i] <= S.nearest)) keep[i] = 0;
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
  let extra = value === null || value === undefined ? "" : `<br><i>${escapeHtml(value)}</i>`;
  if (S.colour === "genre" && f.genre_source && f.genre_source[i] === "folder") {
    extra += " <span>(folder name)</span>";
  }
  return `<b>${title}</b>${artist}${extra}`;
}

// Point size from the plot's area per point: big dots for a few songs on a laptop, small
// ones for thousands of songs or a phone (where big dots merge into blobs).
function markerSize() {
  const n = S.map ? Math.max(1, S.map.n) : 1;
  const box = $("#map").getBoundingClientRect();
  const area = Math.max(1, box.width * box.height);
  return Math.max(1.5, Math.min(8, box.width / 60, 0.11 * Math.sqrt(area / n)));
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
        colorbar: { title: { text: fieldLabel(S.colour) }, thickness: 12, len: 0.5, x: 1.0 },
      },
      showlegend: false,
    }));
    if (without.length) traces.push(pointsTrace(without, "(unknown)", OTHER_COLOUR));
  } else {
    const values = fieldValues(S.colour);
    const byKey = S.colour === "key";
    const { shown, label, other, nOther } = categoriesOf(values, byKey);
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
      const colour = cat === "(unknown)" ? OTHER_COLOUR
        : byKey ? keyColour(label.get(cat)) : PALETTE[k % PALETTE.length];
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
  if (nnIdx.length) traces.push(overlay(nnIdx, "nearest", "circle", "#06d6a0", 8));
  if (window.listenTraces) traces.push(...window.listenTraces());
  if (S.selected !== null) traces.push(overlay([S.selected], "selected", "diamond", "#ef476f", 11));
  if (S.showLabels) traces.push(...clusterLabelTraces());
  return traces;
}

// Each cluster's name written at the centre of its points (all points, not just the
// visible ones, so the names stay put while filtering).
function clusterLabelTraces() {
  const m = S.map;
  const names = m.cluster_names || [];
  const c = m.fields.cluster;
  if (!names.length || !c || names.length < 2) return [];
  const sum = names.map(() => [0, 0, 0, 0]);
  for (let i = 0; i < m.n; i++) {
    const s = sum[c[i]];
    if (!s) continue;
    s[0] += m.x[i]; s[1] += m.y[i]; s[2] += m.z[i]; s[3] += 1;
  }
  const idx = sum.map((s, k) => k).filter((k) => sum[k][3] > 0);
  return [{
    type: "scatter3d", mode: "text", name: "cluster names", meta: "__labels",
    x: idx.map((k) => sum[k][0] / sum[k][3]),
    y: idx.map((k) => sum[k][1] / sum[k][3]),
    z: idx.map((k) => sum[k][2] / sum[k][3] + 0.06), // just above the points
    text: idx.map((k) => names[k]),
    customdata: idx.map(() => null),
    textfont: { color: "#f4f7fb", size: window.innerWidth < 760 ? 10 : 13 },
    hoverinfo: "skip", showlegend: false,
  }];
}

function layout() {
  const narrow = window.innerWidth < 760;
  // Faint grid planes without labels: depth cues while rotating, no meaningless numbers.
  // Fixed ranges (the map's unit cube), so filtering never re-fits the axes.
  const axis = {
    range: [-0.03, 1.03], autorange: false,
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
  const offered = new Set(map.colour_fields.map((f) => f.name));
  if (!S.colourChosen || !offered.has(S.colour)) S.colour = defaultColour(map);
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
    gd.on("plotly_hover", (ev) => {
      const p = ev && ev.points && ev.points[0];
      const i = p && (p.customdata !== undefined ? p.customdata : null);
      if (typeof i === "number" && window.previewHover) window.previewHover(S.map.ids[i]);
    });
    gd.on("plotly_unhover", () => { if (window.previewStop) window.previewStop(); });
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
  document.body.dataset.colour = S.colour;
}

// The colour fields the server offers (the list grows as the library gains fields).
function fillColourSelect(fields) {
  const select = $("#colour-by");
  const have = [...select.options].map((o) => o.value).join("\n");
  if (have !== fields.map((f) => f.name).join("\n")) {
    select.replaceChildren(...fields.map((f) => el("option", { value: f.name, text: f.label })));
  }
  select.value = S.colour;
}

// -- selection -------------------------------------------------------------------------

async function selectId(id, options = {}) {
  const i = S.index.get(id);
  return selectTrack(id, i === undefined ? null : i, options);
}

async function selectIndex(i) {
  return selectTrack(S.map.ids[i], i);
}

// Select a song: info panel, playback (from its highlight), nearest songs, distances and
// the page URL (?track=ID). options.autoplay=false selects without playing;
// options.fromHistory does not push the previous selection on the history.
let selectSeq = 0;
async function selectTrack(id, i, options = {}) {
  const seq = ++selectSeq;
  if (S.selectedTrack && S.selectedTrack.id !== id && !options.fromHistory) {
    S.history.push(S.selectedTrack.id);
  }
  S.selected = i;
  S.neighbours = [];
  S.distance = null;
  S.rank = null;
  resetSlider(true);
  render();
  setUrlTrack(id);
  if (window.pathPick && window.pathPick(id)) {
    // path mode took the click as A or B; the song is still selected below
  }
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
  document.body.dataset.selected = track.id;
  showInfo(track);
  if (options.autoplay !== false) play(track, { autoplay: true });
  loadNeighbours(track.id);
  loadDistances(track.id);
}

function setUrlTrack(id) {
  const url = new URL(window.location.href);
  url.searchParams.set("track", id);
  window.history.replaceState(null, "", url);
}

// Back to the song selected before this one (key p).
function previousSong() {
  const id = S.history.pop();
  if (id) selectId(id, { fromHistory: true });
}

// The nearest song not visited in this walk (key n).
function nextNeighbour() {
  const seen = new Set(S.history);
  const next = S.neighbours.find((r) => !seen.has(r.id));
  if (next) selectId(next.id);
}

function showInfo(t) {
  const facts = el("dl", { class: "facts" });
  const add = (name, value) => facts.append(
    el("div", {}, el("dt", { text: name }), el("dd", { text: value })));
  add("Album", t.album || "–");
  let genre = t.genre || "–";
  if (!t.genre && S.map) {
    const i = S.index.get(t.id);
    const f = S.map.fields;
    if (i !== undefined && f.genre[i]) {
      genre = `${f.genre[i]} (${f.genre_source && f.genre_source[i] === "labels" ? "labels file" : "folder name"})`;
    }
  }
  add("Genre", genre);
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
  const body = [facts];
  if (window.songTimeline) body.unshift(window.songTimeline(t));
  body.push(
    el("h3", { text: "Top tags" }),
    tags.childNodes.length ? tags : el("p", { class: "muted", text: "no tags yet" }),
  );
  if (window.taggramFigure) body.push(window.taggramFigure(t));
  $("#info-body").replaceChildren(...body);
  $("#song-actions").hidden = false;
}

// Play a track; from its highlight unless options.fromStart (the "0:00" button).
function play(track, options = {}) {
  const player = $("#player");
  const hl = track.highlight;
  const start = hl && !options.fromStart ? hl.start_s : 0;
  player.src = track.audio_url;
  player.dataset.trackId = track.id;
  player.dataset.start = String(start);
  const seek = () => {
    if (start > 0) player.currentTime = start;
  };
  player.addEventListener("loadedmetadata", seek, { once: true });
  $("#now-playing").textContent = `${options.autoplay ? "Selected" : "Playing"}: ${trackName(track)}`
    + (start > 0 ? ` (from the highlight at ${duration(start)})` : "");
  if (window.previewStop) window.previewStop();
  player.play().catch(() => { /* autoplay may be refused; the controls are there */ });
}

// -- the similar panel -------------------------------------------------------------------

function similarQuery(id) {
  const q = new URLSearchParams({ k: String(NEIGHBOURS) });
  const t = S.selectedTrack;
  if ($("#sim-key").checked) q.append("filter", "key=compatible");
  if ($("#sim-tempo").checked && t && t.tempo_bpm) {
    q.append("filter", `tempo=${(t.tempo_bpm * 0.92).toFixed(1)}..${(t.tempo_bpm * 1.08).toFixed(1)}`);
  }
  if ($("#sim-artists").checked) q.set("other_artists", "true");
  return `/api/tracks/${encodeURIComponent(id)}/similar?${q}`;
}

// Why a song is near the selection, in words, from the API's explanation.
function explainText(r) {
  const e = r.explanation || {};
  const parts = [`similarity ${r.score.toFixed(2)}`];
  if (e.shared_tags && e.shared_tags.length) {
    parts.push(`shares ${e.shared_tags.slice(0, 3).map((t) => t.split(":").pop()).join(", ")}`);
  }
  if (e.tempo) parts.push(`±${e.tempo.bpm_diff} BPM`);
  if (e.key) parts.push(e.key.compatible ? `key fits (${r.key})` : `key ${r.key}`);
  if (e.same_artist) parts.push("same artist");
  return parts.join(" · ");
}

async function loadNeighbours(id) {
  const list = $("#neighbours");
  list.replaceChildren(el("li", { class: "muted", text: "Finding the nearest songs…" }));
  delete list.dataset.for;
  try {
    const res = await api(similarQuery(id));
    if (!S.selectedTrack || S.selectedTrack.id !== id) return;
    S.neighbours = res.results;
    fillList(list, res.results, explainText);
    list.dataset.for = id;
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
    const id = t.id || t.track_id;
    return el("li", { "data-id": id },
      el("button", { type: "button", class: "pick", title: "Select this song",
                     onclick: () => selectId(id) },
        el("span", { class: "name", text: name }),
        el("span", { class: "muted small", text: describe(t) })),
      el("button", { type: "button", class: "queue-add", "aria-label": `Add ${name} to the queue`,
                     title: "Add to the queue",
                     onclick: () => window.enqueue && window.enqueue([t]) }, "+"),
      el("button", { type: "button", class: "play", "aria-label": `Play ${name}`,
                     onclick: () => play({ ...t, id }, {}) }, "▶"));
  }));
}

// -- "N nearest songs" filter ------------------------------------------------------------

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
    // Rank of each point by distance; the selection is rank 0, its nearest song rank 1.
    const self = S.index.get(id);
    const order = [...d.keys()].filter((i) => Number.isFinite(d[i]) && i !== self)
      .sort((a, b) => d[a] - d[b] || a - b);
    const rank = new Int32Array(S.map.n).fill(2147483647);
    if (self !== undefined) rank[self] = 0;
    order.forEach((i, k) => { rank[i] = k + 1; });
    S.rank = rank;
    const slider = $("#distance");
    slider.max = String(Math.max(1, order.length));
    slider.value = slider.max;
    slider.disabled = false;
    S.nearest = null;
    updateDistanceLabel();
  } catch (err) {
    $("#distance-value").textContent = `unavailable (${err.message})`;
  }
}

function updateDistanceLabel() {
  const slider = $("#distance");
  const n = Number(slider.value);
  $("#distance-value").textContent = S.nearest === null
    ? `all ${slider.max} songs`
    : `${n} nearest song${n === 1 ? "" : "s"}`;
}

function onDistance() {
  const slider = $("#distance");
  const value = Number(slider.value);
  S.nearest = value >= Number(slider.max) ? null : value;
  updateDistanceLabel();
  render();
}

function resetSlider(disable) {
  const slider = $("#distance");
  slider.value = slider.max;
  S.nearest = null;
  if (disable) {
    slider.disabled = true;
    $("#distance-value").textContent = "loading…";
  } else {
    updateDistanceLabel();
  }
}

function resetFilters() {
  S.nearest = null;
  S.hidden.clear();
  S.hits = [];
  S.lastResults = [];
  $("#search-results").replaceChildren();
  $("#search-intent").textContent = "";
  $("#results-panel").hidden = true;
  if (S.rank) resetSlider(false);
  render();
}

// -- search ----------------------------------------------------------------------------

async function search(ev) {
  ev.preventDefault();
  const q = $("#search-input").value.trim();
  const list = $("#search-results");
  const panel = $("#results-panel");
  panel.hidden = false;
  S.lastQuery = q;
  S.lastResults = [];
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
    S.lastResults = shown;
    const n = shown.length;
    $("#search-intent").textContent = `“${q}” understood as: ${patterns.join(", ") || "nothing in particular"}. `
      + `${n} song${n === 1 ? "" : "s"}${strong.length ? "" : " (weak matches)"}, marked in yellow.`;
    fillList(list, shown, (r) => `score ${r.score.toFixed(2)}`);
    render();
  } catch (err) {
    list.replaceChildren(el("li", { class: "error", text: err.message }));
  }
  // Keep the results in view: the side panel scrolls to them (on a phone, the page does).
  panel.scrollIntoView({ block: window.innerWidth < 760 ? "start" : "nearest", behavior: "instant" });
}

// -- keys ------------------------------------------------------------------------------

function onKey(ev) {
  const tag = (ev.target && ev.target.tagName) || "";
  if (["INPUT", "SELECT", "TEXTAREA"].includes(tag) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === "n") nextNeighbour();
  else if (ev.key === "p") previousSong();
  else if (ev.key === "/") { ev.preventDefault(); $("#search-input").focus(); }
  else if (ev.key === "q" && S.selectedTrack && window.enqueue) window.enqueue([S.selectedTrack]);
  else return;
}

// -- start -----------------------------------------------------------------------------

async function loadSummary() {
  try {
    const s = await api("/api/stats");
    const mins = Math.round(s.total_duration_s / 60);
    const n = s.by_status.ok;
    $("#library-summary").textContent =
      `${n.toLocaleString()} song${n === 1 ? "" : "s"} · ` +
      (s.artists ? `${s.artists} artist${s.artists === 1 ? "" : "s"} · ` : "") +
      (mins >= 1 ? `${mins} min of audio` : `${Math.round(s.total_duration_s)} s of audio`);
  } catch (err) {
    $("#library-summary").textContent = `library unavailable: ${err.message}`;
  }
}

async function start() {
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
    S.colourChosen = true;
    document.body.dataset.colour = S.colour;
    S.hidden.clear();
    render();
  });
  $("#method").addEventListener("change", (ev) => {
    S.method = ev.target.value;
    S.hidden.clear();
    loadMap();
  });
  $("#show-labels").addEventListener("change", (ev) => {
    S.showLabels = ev.target.checked;
    render();
  });
  for (const id of ["#sim-key", "#sim-tempo", "#sim-artists"]) {
    $(id).addEventListener("change", () => {
      if (S.selectedTrack) loadNeighbours(S.selectedTrack.id);
    });
  }
  $("#share").addEventListener("click", shareLink);
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", () => render());
  const params = new URLSearchParams(window.location.search);
  if (params.get("colour")) {
    S.colour = params.get("colour");
    S.colourChosen = true;
  }
  loadSummary();
  await loadMap();
  const track = params.get("track");
  if (track && S.map) selectId(track, { autoplay: false });
}

async function shareLink() {
  const url = window.location.href;
  const out = $("#share-url");
  out.value = url;
  out.hidden = false;
  out.select();
  try {
    await navigator.clipboard.writeText(url);
    $("#share").textContent = "Link copied";
  } catch (_) {
    $("#share").textContent = "Copy the link";
  }
  setTimeout(() => { $("#share").textContent = "Share link"; }, 2500);
}

// For tests and the console: the state and the actions the page performs.
window.songscape = {
  state: S, selectId, selectIndex, render, search, play, api, el, trackName, duration,
  nextNeighbour, previousSong,
};

document.addEventListener("DOMContentLoaded", start);
