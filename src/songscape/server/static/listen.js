/* songscape map page, listening flows: the play queue, radio, path mode (A → B drawn
 * through the map and played as a queue), previews of a song's highlight on hover, and
 * the selected song's timeline (energy curve, sections, highlight window).
 *
 * Uses the globals of app.js (S, $, el, api, play, selectId, render, trackName, duration).
 * Library text goes into the DOM through textContent only.
 */
"use strict";

const PREVIEW_DELAY_MS = 350; // hover this long before a preview starts
const PREVIEW_S = 6; // longest preview
const RADIO_CANDIDATES = 25;

const L = {
  queue: [], // [{id, title, artist, ...}] (track summaries)
  pos: -1, // index in the queue of the song playing, -1 = none
  played: new Set(), // ids played in this session (radio skips them)
  log: [], // ids in the order they started (or resumed) playing
  radio: false,
  pathMode: false,
  pathA: null, // track summary
  pathB: null,
  path: [], // /api/path results
  trackCache: new Map(), // id -> /api/tracks/{id}
  forYou: [], // the chosen listener's recommendations that are library tracks
  preview: { timer: null, stop: null, id: null },
};

// -- the queue -------------------------------------------------------------------------

function summaryOf(t) {
  return {
    id: t.id || t.track_id, title: t.display_title || t.title, artist: t.artist,
    duration_s: t.duration_s, audio_url: t.audio_url || `/api/tracks/${t.id || t.track_id}/audio`,
  };
}

function enqueue(tracks, { replace = false, playFirst = false } = {}) {
  const items = tracks.map(summaryOf).filter((t) => t.id);
  if (replace) {
    L.queue = items;
    L.pos = -1;
  } else {
    L.queue.push(...items);
  }
  renderQueue();
  if (playFirst && items.length) playQueueAt(replace ? 0 : L.queue.length - items.length);
}

function playQueueAt(k) {
  if (k < 0 || k >= L.queue.length) return;
  L.pos = k;
  renderQueue();
  selectId(L.queue[k].id); // selects on the map and plays (from the highlight)
}

function renderQueue() {
  const list = $("#queue");
  const panel = $("#queue-panel");
  panel.dataset.pos = String(L.pos);
  $("#queue-count").textContent = L.queue.length
    ? `${L.queue.length} song${L.queue.length === 1 ? "" : "s"}` : "empty";
  if (!L.queue.length) {
    list.replaceChildren(el("li", { class: "muted", text: "Add songs with + (or key q), or switch the radio on." }));
    return;
  }
  list.replaceChildren(...L.queue.map((t, k) => {
    const li = el("li", { "data-id": t.id, class: k === L.pos ? "current" : "" },
      el("button", { type: "button", class: "pick", onclick: () => playQueueAt(k),
                     title: "Play from here" },
        el("span", { class: "name", text: `${k + 1}. ${trackName(t)}` }),
        el("span", { class: "muted small", text: k === L.pos ? "playing" : duration(t.duration_s) })),
      el("button", { type: "button", class: "queue-remove", "aria-label": `Remove ${trackName(t)}`,
                     title: "Remove", onclick: () => removeAt(k) }, "×"));
    if (k === L.pos) li.setAttribute("aria-current", "true");
    return li;
  }));
}

function removeAt(k) {
  L.queue.splice(k, 1);
  if (k < L.pos) L.pos -= 1;
  else if (k === L.pos) L.pos = Math.min(L.pos, L.queue.length) - 1;
  renderQueue();
}

// The song after the current one: the queue's next entry, else (radio on) the nearest
// song to the current one that was not played yet.
async function advance() {
  const player = $("#player");
  if (player.dataset.trackId) L.played.add(player.dataset.trackId);
  if (L.pos + 1 < L.queue.length) {
    playQueueAt(L.pos + 1);
    return;
  }
  if (!L.radio) return;
  if ($("#radio-source").value === "foryou" && L.forYou.length) {
    const next = L.forYou.find((r) => !L.played.has(r.id) && !L.queue.some((q) => q.id === r.id));
    if (next) {
      enqueue([next]);
      playQueueAt(L.queue.length - 1);
      $("#radio-status").textContent = `Radio: ${trackName(next)} (for ${$("#foryou-user").value})`;
      return;
    }
  }
  const current = player.dataset.trackId || (S.selectedTrack && S.selectedTrack.id);
  if (!current) return;
  try {
    const res = await api(`/api/tracks/${encodeURIComponent(current)}/similar?k=${RADIO_CANDIDATES}`);
    const next = res.results.find((r) => !L.played.has(r.id) && !L.queue.some((q) => q.id === r.id));
    if (!next) {
      $("#radio-status").textContent = "The radio has played every nearby song.";
      return;
    }
    enqueue([next]);
    playQueueAt(L.queue.length - 1);
    $("#radio-status").textContent = `Radio: ${trackName(next)} (nearest unplayed song)`;
  } catch (err) {
    $("#radio-status").textContent = `Radio stopped: ${err.message}`;
  }
}

// -- path mode -------------------------------------------------------------------------

function setPathMode(on) {
  L.pathMode = on;
  L.pathA = null;
  L.pathB = null;
  L.path = [];
  $("#path-mode").setAttribute("aria-pressed", String(on));
  $("#path-panel").hidden = !on;
  $("#path-list").replaceChildren();
  $("#path-play").disabled = true;
  $("#path-help").textContent = on ? "Click the first song (A) in the map or a list." : "";
  render();
}

// Called by app.js for every selection; in path mode the first pick is A, the second B.
function pathPick(id) {
  if (!L.pathMode) return false;
  if (!L.pathA || (L.pathA && L.pathB)) {
    L.pathA = { id };
    L.pathB = null;
    L.path = [];
    $("#path-list").replaceChildren();
    $("#path-play").disabled = true;
    $("#path-help").textContent = "Now click the last song (B).";
    render();
    return true;
  }
  if (id === L.pathA.id) return true;
  L.pathB = { id };
  loadPath();
  return true;
}

async function loadPath() {
  const steps = Number($("#path-steps").value) || 8;
  $("#path-help").textContent = "Finding the path…";
  try {
    const res = await api(`/api/path?from=${encodeURIComponent(L.pathA.id)}`
      + `&to=${encodeURIComponent(L.pathB.id)}&steps=${steps}`);
    L.path = res.path;
    $("#path-help").textContent = `${res.path.length} songs from A to B, each a neighbour of the one before.`;
    const list = $("#path-list");
    list.replaceChildren(...res.path.map((t, k) => el("li", { "data-id": t.id },
      el("button", { type: "button", class: "pick", onclick: () => selectId(t.id) },
        el("span", { class: "name", text: `${k === 0 ? "A" : k === res.path.length - 1 ? "B" : k}. ${trackName(t)}` }),
        el("span", { class: "muted small", text: k ? `similarity ${t.similarity.toFixed(2)}` : "start" })))));
    $("#path-play").disabled = false;
    document.body.dataset.pathLength = String(res.path.length);
    render();
  } catch (err) {
    $("#path-help").textContent = `No path: ${err.message}`;
  }
}

// Overlay traces for app.js: the path as a line through its songs, A and B marked.
function listenTraces() {
  if (!S.map) return [];
  const out = [];
  const pts = L.path.map((t) => S.index.get(t.id)).filter((i) => i !== undefined);
  if (pts.length >= 2) {
    out.push({
      type: "scatter3d", mode: "lines+markers", name: "path", meta: "__path",
      x: pts.map((i) => S.map.x[i]), y: pts.map((i) => S.map.y[i]), z: pts.map((i) => S.map.z[i]),
      customdata: pts, text: pts.map((i) => S.map.fields.title[i]),
      hovertemplate: "%{text}<extra>path</extra>",
      line: { color: "#ffd166", width: 6 },
      marker: { size: 5, color: "#ffd166", line: { width: 1, color: "#ffffff" } },
      showlegend: true,
    });
  }
  const ends = [L.pathA, L.pathB].filter(Boolean).map((t) => S.index.get(t.id))
    .filter((i) => i !== undefined);
  if (L.pathMode && ends.length) {
    out.push({
      type: "scatter3d", mode: "markers+text", name: "path ends", meta: "__pathends",
      x: ends.map((i) => S.map.x[i]), y: ends.map((i) => S.map.y[i]), z: ends.map((i) => S.map.z[i]),
      customdata: ends, text: ends.map((_, k) => (k ? "B" : "A")),
      textposition: "top center", textfont: { color: "#ffd166", size: 16 },
      hoverinfo: "skip", showlegend: false,
      marker: { size: 10, symbol: "square", color: "#ffd166", line: { width: 2, color: "#000" } },
    });
  }
  return out;
}

// -- hover previews --------------------------------------------------------------------

async function trackDetail(id) {
  if (!L.trackCache.has(id)) L.trackCache.set(id, await api(`/api/tracks/${encodeURIComponent(id)}`));
  return L.trackCache.get(id);
}

// Hovering a point previews its highlight (or its first seconds): after a short pause on
// the point, never while the main player plays, at most PREVIEW_S seconds.
function previewHover(id) {
  if (!$("#preview-hover").checked || !$("#player").paused) return;
  if (L.preview.id === id) return;
  previewStop();
  L.preview.id = id;
  L.preview.timer = setTimeout(async () => {
    let t;
    try {
      t = await trackDetail(id);
    } catch (_) {
      return;
    }
    if (L.preview.id !== id) return;
    const audio = $("#preview");
    const hl = t.highlight;
    const start = hl ? hl.start_s : 0;
    const stopAt = Math.min(hl ? hl.end_s : start + PREVIEW_S, start + PREVIEW_S);
    audio.src = t.audio_url;
    audio.dataset.trackId = id;
    audio.addEventListener("loadedmetadata", () => { audio.currentTime = start; }, { once: true });
    const onTime = () => { if (audio.currentTime >= stopAt) previewStop(); };
    audio.addEventListener("timeupdate", onTime);
    L.preview.stop = () => audio.removeEventListener("timeupdate", onTime);
    document.body.dataset.preview = id;
    $("#now-playing").textContent = `Preview: ${trackName(t)}${hl ? " (highlight)" : ""}`;
    audio.play().catch(() => { /* needs a first click on the page in most browsers */ });
  }, PREVIEW_DELAY_MS);
}

function previewStop() {
  clearTimeout(L.preview.timer);
  L.preview.timer = null;
  L.preview.id = null;
  if (L.preview.stop) L.preview.stop();
  L.preview.stop = null;
  const audio = $("#preview");
  if (audio && !audio.paused) audio.pause();
  delete document.body.dataset.preview;
}

// -- the song's timeline: energy, sections, highlight ---------------------------------

const SECTION_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2",
  "#e15759", "#9c755f"];

// {times, values} of the energy curve: the `energy_curve` field, else the analysis
// descriptors (values at energy_rate_hz); null when neither exists.
function energyOf(t) {
  const e = t.energy_curve;
  if (e && Array.isArray(e.times_s) && Array.isArray(e.values) && e.values.length) {
    return { times: e.times_s, values: e.values };
  }
  const d = t.descriptors;
  if (d && Array.isArray(d.energy_curve) && d.energy_curve.length && d.energy_rate_hz) {
    const rate = d.energy_rate_hz;
    const max = Math.max(...d.energy_curve) || 1;
    return { times: d.energy_curve.map((_, k) => k / rate), values: d.energy_curve.map((v) => v / max) };
  }
  return null;
}

function songTimeline(t) {
  const energy = energyOf(t);
  const sections = Array.isArray(t.sections) ? t.sections : [];
  const hl = t.highlight;
  const wrap = el("figure", { class: "timeline", id: "timeline" });
  if (!energy && !sections.length && !hl) {
    wrap.append(el("figcaption", { class: "muted small", text: "No energy curve or sections yet." }));
    return wrap;
  }
  const total = t.duration_s || (energy ? energy.times[energy.times.length - 1] : 0)
    || (sections.length ? sections[sections.length - 1].end_s : 0) || (hl ? hl.end_s : 1);
  const canvas = el("canvas", { id: "timeline-canvas", width: "340", height: "72",
    role: "img", "aria-label": timelineLabel(t, sections, hl, total) });
  wrap.append(canvas);
  const caption = [];
  if (sections.length) caption.push(`sections ${sections.map((s) => s.label).join(" ")}`);
  if (hl) caption.push(`highlight ${duration(hl.start_s)}–${duration(hl.end_s)}`);
  wrap.append(el("figcaption", { class: "muted small", text: `Energy over time${caption.length ? " · " + caption.join(" · ") : ""}. Click to jump.` }));
  canvas.addEventListener("click", (ev) => {
    const box = canvas.getBoundingClientRect();
    const player = $("#player");
    if (player.dataset.trackId !== t.id) play(t, { fromStart: true });
    player.currentTime = ((ev.clientX - box.left) / box.width) * total;
  });
  const draw = () => drawTimeline(canvas, energy, sections, hl, total, t.id);
  requestAnimationFrame(draw);
  const player = $("#player");
  player.ontimeupdate = () => { if (document.getElementById("timeline-canvas") === canvas) draw(); };
  return wrap;
}

function timelineLabel(t, sections, hl, total) {
  const parts = [`Energy curve of ${trackName(t)} over ${duration(total)}`];
  if (sections.length) parts.push(`sections ${sections.map((s) => `${s.label} from ${duration(s.start_s)}`).join(", ")}`);
  if (hl) parts.push(`highlight from ${duration(hl.start_s)} to ${duration(hl.end_s)}`);
  return parts.join("; ");
}

function drawTimeline(canvas, energy, sections, hl, total, id) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 340;
  const h = canvas.clientHeight || 72;
  if (canvas.width !== Math.round(w * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const x = (s) => (s / total) * w;
  const labels = [...new Set(sections.map((s) => s.label))];
  for (const s of sections) {
    const colour = SECTION_COLOURS[labels.indexOf(s.label) % SECTION_COLOURS.length];
    g.fillStyle = colour + "55";
    g.fillRect(x(s.start_s), 0, Math.max(1, x(s.end_s) - x(s.start_s)), h);
    g.fillStyle = "#e6ebf3";
    g.font = "11px system-ui, sans-serif";
    g.fillText(String(s.label), x(s.start_s) + 3, 12);
  }
  if (hl) {
    g.fillStyle = "rgba(255, 209, 102, 0.22)";
    g.fillRect(x(hl.start_s), 0, x(hl.end_s) - x(hl.start_s), h);
    g.strokeStyle = "#ffd166";
    g.lineWidth = 2;
    g.strokeRect(x(hl.start_s) + 1, 1, Math.max(1, x(hl.end_s) - x(hl.start_s) - 2), h - 2);
  }
  if (energy) {
    g.beginPath();
    energy.times.forEach((tt, k) => {
      const px = x(tt);
      const py = h - 4 - Math.max(0, Math.min(1, energy.values[k])) * (h - 18);
      if (k) g.lineTo(px, py); else g.moveTo(px, py);
    });
    g.strokeStyle = "#6cb4ff";
    g.lineWidth = 1.5;
    g.stroke();
  }
  const player = $("#player");
  if (player.dataset.trackId === id && Number.isFinite(player.currentTime)) {
    g.fillStyle = "#ef476f";
    g.fillRect(x(player.currentTime) - 1, 0, 2, h);
  }
}

// -- saved playlists ---------------------------------------------------------------------

async function apiSend(method, path, body) {
  const res = await fetch(path, {
    method, headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error((data && data.error) || `${res.status} ${res.statusText}`);
  return data;
}

// Every list the page shows (the queue, the nearest songs, search results, the path,
// "for you", and lists of other panels) is saved through one code path: the ids of the
// list's entries (`li[data-id]`, in the order shown) POSTed to /api/playlists. A name
// that is taken is not replaced unless the user says so.

const PLAYLIST_NAME_MAX = 200; // the API's limit
const PLAYLIST_SOURCE_MAX = 300;

// A usable playlist name from any text: no slashes or line breaks (the API refuses
// them), at most PLAYLIST_NAME_MAX characters.
function playlistName(text) {
  return String(text || "").replace(/[\r\n\t/\\]+/g, " ").replace(/\s+/g, " ").trim()
    .slice(0, PLAYLIST_NAME_MAX).trim();
}

// The track ids of a list element's entries, in the order shown.
function listIds(list) {
  return [...list.querySelectorAll(":scope > li[data-id]")].map((li) => li.dataset.id);
}

class PlaylistExistsError extends Error {
  constructor(playlist) {
    super(`A playlist “${playlist.name}” already exists (${playlist.n_tracks} songs).`);
    this.playlist = playlist;
  }
}

// Save `ids` as playlist `name`; without `replace`, a name that is taken throws
// PlaylistExistsError and nothing is written. Returns the saved playlist.
async function saveIds(name, ids, source, { replace = false } = {}) {
  const clean = String(name || "").trim();
  if (!clean) throw new Error("Give the playlist a name.");
  if (/[\r\n\t/\\]/.test(clean)) throw new Error("A playlist name cannot hold slashes or line breaks.");
  if (!ids.length) throw new Error("The list is empty: nothing to save.");
  if (!replace) {
    const taken = (await api("/api/playlists")).playlists.find((p) => p.name === clean);
    if (taken) throw new PlaylistExistsError(taken);
  }
  const p = await apiSend("POST", "/api/playlists",
    { name: clean, track_ids: ids, source: String(source || "web").slice(0, PLAYLIST_SOURCE_MAX) });
  loadPlaylists();
  return p;
}

function exportUrl(name, format = "m3u8") {
  return `/api/playlists/${encodeURIComponent(name)}/export?format=${format}`;
}

function downloadLinks(name) {
  return ["m3u8", "xspf"].map((f) => el("a", { class: "small-button", href: exportUrl(name, f),
    download: "", title: `Download “${name}” as ${f.toUpperCase()}` }, f.toUpperCase()));
}

// Wire a form (a name input and a submit button) to save the list `list` (an element
// whose `li[data-id]` entries are the tracks) and report in `status`: the name and count
// with M3U8/XSPF downloads, a taken name with a "Replace it" button, or the error.
function wireSaveForm({ form, input, status, list, source, onSaved }) {
  const save = async (replace) => {
    const name = input.value;
    status.classList.remove("error");
    status.textContent = "Saving…";
    delete status.dataset.saved;
    try {
      const p = await saveIds(name, listIds(list), typeof source === "function" ? source() : source,
        { replace });
      status.replaceChildren(`Saved “${p.name}” (${p.n_tracks} song${p.n_tracks === 1 ? "" : "s"}). `,
        ...downloadLinks(p.name));
      status.dataset.saved = p.name;
      if (onSaved) onSaved(p);
    } catch (err) {
      status.classList.add("error");
      if (err instanceof PlaylistExistsError) {
        status.replaceChildren(`${err.message} Choose another name, or `,
          el("button", { type: "button", class: "small-button replace",
                         onclick: () => save(true) }, "Replace it"));
      } else {
        status.textContent = `Not saved: ${err.message}`;
      }
    }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); save(false); });
}

// A "Save as playlist…" control for a shown list, built into `container`: the button
// opens an inline name field (filled with `suggest()`), Save writes the list as it is
// shown. `key` makes the element ids (`#KEY-save-open`, `#KEY-save-name`,
// `#KEY-save-status`). The button is disabled while the list has no tracks.
// Other panels (static/*.js) may call window.songscapeListen.mountListSave too.
function mountListSave(container, { key, list, source, suggest }) {
  const open = el("button", { type: "button", id: `${key}-save-open`, class: "list-save-open",
    "aria-expanded": "false", "aria-controls": `${key}-save-form` }, "Save as playlist…");
  const input = el("input", { id: `${key}-save-name`, type: "text", maxlength: String(PLAYLIST_NAME_MAX),
    placeholder: "Playlist name", autocomplete: "off" });
  const form = el("form", { id: `${key}-save-form`, class: "row list-save-form", hidden: "" },
    el("label", { for: input.id, class: "visually-hidden", text: "Name of the new playlist" }),
    input, el("button", { type: "submit" }, "Save"),
    el("button", { type: "button", class: "list-save-cancel", onclick: () => show(false) }, "Cancel"));
  const status = el("p", { id: `${key}-save-status`, class: "muted small list-save-status",
    "aria-live": "polite" });
  let suggested = "";
  const show = (on) => {
    form.hidden = !on;
    open.hidden = on;
    open.setAttribute("aria-expanded", String(on));
    if (on) {
      suggested = playlistName(suggest ? suggest() : "");
      input.value = suggested;
      input.focus();
      input.select();
    } else {
      open.focus();
    }
  };
  open.addEventListener("click", () => show(true));
  // A new list: the button follows it, an untouched suggestion too, and the last
  // confirmation (about the previous list) goes.
  const refresh = () => {
    const n = listIds(list).length;
    open.disabled = n === 0;
    open.title = n ? `Save these ${n} songs as a playlist of the library` : "No songs in the list";
    if (!form.hidden && input.value === suggested && suggest) {
      suggested = playlistName(suggest());
      input.value = suggested;
    }
    status.replaceChildren();
    status.classList.remove("error");
    delete status.dataset.saved;
  };
  new MutationObserver(refresh).observe(list, { childList: true });
  refresh();
  const onSaved = () => {
    form.hidden = true;
    open.hidden = false;
    open.setAttribute("aria-expanded", "false");
  };
  wireSaveForm({ form, input, status, list, source, onSaved });
  container.replaceChildren(open, form, status);
  return { open, form, input, status };
}

async function loadPlaylists() {
  const list = $("#playlists");
  let res;
  try {
    res = await api("/api/playlists");
  } catch (err) {
    list.replaceChildren(el("li", { class: "error", text: err.message }));
    return;
  }
  if (!res.playlists.length) {
    list.replaceChildren(el("li", { class: "muted small", text: "None yet: save the queue or a list, or use `songscape … --save NAME`." }));
    return;
  }
  list.replaceChildren(...res.playlists.map((p) => el("li", { "data-name": p.name },
    el("button", { type: "button", class: "pick", title: "Load into the queue and play",
                   onclick: () => loadPlaylist(p.name) },
      el("span", { class: "name", text: p.name }),
      el("span", { class: "muted small", text: `${p.n_tracks} songs · ${duration(p.duration_s)}` })),
    ...downloadLinks(p.name))));
}

async function loadPlaylist(name) {
  try {
    const p = await api(`/api/playlists/${encodeURIComponent(name)}`);
    enqueue(p.tracks, { replace: true, playFirst: true });
    $("#playlist-status").textContent = `Playing “${p.name}”.`;
  } catch (err) {
    $("#playlist-status").textContent = err.message;
  }
}

// The "Save as playlist…" controls of the page's own lists; sources as the CLI's --save.
function mountSaveControls() {
  const title = (t) => (t ? t.display_title || t.title || t.filename || t.id : "");
  mountListSave($("#neighbours-save"), {
    key: "neighbours", list: $("#neighbours"),
    source: () => `similar:${$("#neighbours").dataset.for || ""}`,
    suggest: () => (S.selectedTrack ? `Like ${title(S.selectedTrack)}` : "Nearest songs"),
  });
  mountListSave($("#search-save"), {
    key: "search", list: $("#search-results"),
    source: () => `search:${S.lastQuery || ""}`,
    suggest: () => `Search ${S.lastQuery || ""}`,
  });
  mountListSave($("#path-save"), {
    key: "path", list: $("#path-list"),
    source: () => (L.path.length ? `path:${L.path[0].id}..${L.path[L.path.length - 1].id}` : "path"),
    suggest: () => (L.path.length ? `${title(L.path[0])} to ${title(L.path[L.path.length - 1])}` : "Path"),
  });
  mountListSave($("#foryou-save"), {
    key: "foryou", list: $("#foryou"),
    source: () => `recommend:${$("#foryou-user").value}`,
    suggest: () => `For ${$("#foryou-user").value}`,
  });
}

// -- "for you": recommendations from imported listening data ---------------------------

async function loadUsers() {
  let res;
  try {
    res = await api("/api/users?limit=200");
  } catch (_) {
    return; // no recommend extra, or no listening data: the panel stays hidden
  }
  if (!res.users.length) return;
  const select = $("#foryou-user");
  select.replaceChildren(...res.users.map((u) => el("option", { value: u.id,
    text: `${u.id} (${u.plays.toLocaleString()} plays)` })));
  $("#foryou-panel").hidden = false;
  loadForYou();
}

async function loadForYou() {
  const user = $("#foryou-user").value;
  const list = $("#foryou");
  $("#foryou-status").textContent = "Recommending…";
  try {
    const res = await api(`/api/recommend?user=${encodeURIComponent(user)}&k=20`);
    const tracks = res.results.filter((r) => r.track_id)
      .map((r) => ({ ...r, id: r.track_id }));
    L.forYou = tracks;
    $("#foryou-status").textContent = tracks.length
      ? `${tracks.length} songs of the library for ${user} (${res.model}).`
      : `No recommendation for ${user} is a track of this library.`;
    fillList(list, tracks, (r) => `score ${Number(r.score).toFixed(2)}`);
    $("#foryou-play").disabled = !tracks.length;
  } catch (err) {
    L.forYou = [];
    $("#foryou-status").textContent = err.message;
    list.replaceChildren();
  }
}

// -- taggram: the top tags over the song's time ----------------------------------------

function taggramFigure(t) {
  const fig = el("figure", { class: "taggram", id: "taggram" });
  fig.append(el("figcaption", { class: "muted small", text: "Loading the taggram…" }));
  api(`/api/tracks/${encodeURIComponent(t.id)}/taggram?top=8`).then((g) => {
    if (!document.body.contains(fig)) return;
    if (!g.tags.length) {
      fig.replaceChildren(el("figcaption", { class: "muted small", text: "No taggram yet (ingest with a tagging model adds it)." }));
      return;
    }
    const canvas = el("canvas", { id: "taggram-canvas", width: "340", height: String(14 * g.tags.length),
      role: "img", "aria-label": `Taggram: ${g.tags.join(", ")} over ${g.values[0].length} patches of ${g.patch_s} s` });
    fig.replaceChildren(canvas, el("figcaption", { class: "muted small",
      text: `Taggram (${g.model}): the top ${g.tags.length} tags over time, ${g.patch_s} s per column.` }));
    requestAnimationFrame(() => drawTaggram(canvas, g));
  }).catch((err) => {
    fig.replaceChildren(el("figcaption", { class: "error small", text: err.message }));
  });
  return fig;
}

function drawTaggram(canvas, g) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 340;
  const rowH = 14;
  const h = rowH * g.tags.length;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.height = `${h}px`;
  const c = canvas.getContext("2d");
  c.setTransform(dpr, 0, 0, dpr, 0, 0);
  const labelW = 96;
  const n = g.values[0].length;
  const cellW = (w - labelW) / n;
  c.font = "11px system-ui, sans-serif";
  g.tags.forEach((tag, r) => {
    c.fillStyle = "#9aa7bd";
    c.fillText(tag.length > 15 ? tag.slice(0, 14) + "…" : tag, 2, r * rowH + 11);
    g.values[r].forEach((v, k) => {
      c.fillStyle = `rgba(108, 180, 255, ${Math.max(0.04, Math.min(1, v * 1.6))})`;
      c.fillRect(labelW + k * cellW, r * rowH + 1, Math.max(1, cellW - 0.5), rowH - 2);
    });
  });
}

// -- wiring ----------------------------------------------------------------------------

function startListening() {
  const player = $("#player");
  player.addEventListener("ended", advance);
  player.addEventListener("play", () => {
    previewStop();
    const id = player.dataset.trackId;
    if (!id) return;
    L.played.add(id);
    L.log.push(id);
  });
  $("#radio").addEventListener("change", (ev) => {
    L.radio = ev.target.checked;
    $("#radio-status").textContent = L.radio
      ? "Radio on: when the queue ends, the nearest unplayed song plays next." : "";
    // Nothing playing: the radio starts now, from the last song played (or the selection).
    if (L.radio && (player.ended || (player.paused && L.pos + 1 >= L.queue.length))) advance();
  });
  $("#queue-clear").addEventListener("click", () => enqueue([], { replace: true }));
  $("#queue-next").addEventListener("click", advance);
  $("#from-start").addEventListener("click", () => {
    const t = S.selectedTrack;
    if (!t) return;
    if (player.dataset.trackId === t.id) {
      player.currentTime = 0;
      player.play().catch(() => {});
    } else {
      play(t, { fromStart: true });
    }
  });
  $("#queue-add").addEventListener("click", () => { if (S.selectedTrack) enqueue([S.selectedTrack]); });
  $("#path-mode").addEventListener("click", () => setPathMode(!L.pathMode));
  $("#path-play").addEventListener("click", () => enqueue(L.path, { replace: true, playFirst: true }));
  $("#path-steps").addEventListener("change", () => { if (L.pathA && L.pathB) loadPath(); });
  wireSaveForm({ form: $("#playlist-save"), input: $("#playlist-name"), status: $("#playlist-status"),
                 list: $("#queue"), source: "queue" });
  mountSaveControls();
  $("#foryou-user").addEventListener("change", loadForYou);
  $("#foryou-play").addEventListener("click", () => enqueue(L.forYou, { replace: true, playFirst: true }));
  renderQueue();
  loadPlaylists();
  loadUsers();
}

Object.assign(window, {
  enqueue, pathPick, listenTraces, previewHover, previewStop, songTimeline, taggramFigure,
});
window.songscapeListen = {
  state: L, enqueue, advance, playQueueAt, setPathMode, loadPath, loadPlaylists, loadPlaylist,
  saveIds, wireSaveForm, mountListSave, listIds,
};

document.addEventListener("DOMContentLoaded", startListening);
