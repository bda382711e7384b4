/* songscape map page, the Mix panel (issue 13): render a DJ mix of the queue, of the songs
 * that follow the current one ("mix from here"), or of the path from A to B, with
 * POST /api/mixes; show its progress; then play it here with a timeline of its segments
 * and transitions (beat-matched or faded; hover: tempo ratio, key relation, cost; click
 * or arrow keys: seek), its tracklist (savable as a playlist) and download links.
 *
 * Self-contained but for dom.js (make): a panel added after the queue's, its own style
 * block, no globals but window.songscapeMix (for tests and the console). It reads the
 * page's state through window.songscape (selection) and window.songscapeListen (queue,
 * path) and uses songscapeListen.mountListSave for "Save as playlist…". Library text goes
 * into the DOM through textContent only.
 */
"use strict";

(() => {
  const POLL_MS = 700;
  const MAX_TRACKS = 100;
  const M = { job: null, poll: null, duration: 0 };

  const { make } = window.songscapeDom;  // dom.js
  const $ = (id) => document.getElementById(id);
  const listen = () => window.songscapeListen || { state: { queue: [], path: [] } };
  const clock = (s) => {
    const t = Math.max(0, Math.round(s || 0));
    return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")}`;
  };
  const segName = (s) => {
    const title = s.title || (s.filename || s.track_id).replace(/\.[^.]+$/, "");
    return s.artist ? `${title} — ${s.artist}` : title;
  };

  async function call(path, options = {}) {
    const res = await fetch(path, { headers: { Accept: "application/json", "Content-Type": "application/json" }, ...options });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (!res.ok) throw new Error((body && body.error) || `${res.status} ${res.statusText}`);
    return body;
  }

  // -- what to mix -----------------------------------------------------------------------

  function currentTrackId() {
    const player = $("player");
    if (player && player.dataset.trackId) return player.dataset.trackId;
    const S = window.songscape && window.songscape.state;
    return S && S.selectedTrack ? S.selectedTrack.id : null;
  }

  function options() {
    return { segments: $("mix-segments").value, style: $("mix-style").value };
  }

  function refreshButtons() {
    const L = listen().state;
    const n = L.queue.length;
    $("mix-queue").disabled = n < 2;
    $("mix-queue").title = n < 2 ? "Put two or more songs in the queue" : `Mix the ${Math.min(n, MAX_TRACKS)} songs of the queue`;
    const here = currentTrackId();
    $("mix-here").disabled = !here;
    $("mix-here").title = here ? "A mix that starts with the current song" : "Select or play a song first";
    const path = Boolean(L.pathA && L.pathB);
    $("mix-path").disabled = !path;
    $("mix-path").title = path ? "A mix along the path from A to B" : "Pick A and B in path mode (Path A→B) first";
  }

  function mixQueue() {
    const ids = listen().state.queue.map((t) => t.id).slice(0, MAX_TRACKS);
    start({ tracks: ids, reorder: $("mix-reorder").checked }, "the queue");
  }

  function mixHere() {
    const seed = currentTrackId();
    const count = Math.max(2, Math.min(MAX_TRACKS, Number($("mix-count").value) || 8));
    start({ seed, count }, "from the current song");
  }

  function mixPath() {
    const L = listen().state;
    const steps = Number((document.getElementById("path-steps") || {}).value) || 8;
    start({ from: L.pathA.id, to: L.pathB.id, count: Math.min(MAX_TRACKS, steps + 2) }, "the path A→B");
  }

  // -- the job ---------------------------------------------------------------------------

  async function start(source, what) {
    stopPolling();
    const status = $("mix-status");
    status.classList.remove("error");
    status.textContent = `Planning a mix of ${what}…`;
    setBusy(true);
    try {
      const job = await call("/api/mixes", { method: "POST", body: JSON.stringify({ ...source, ...options() }) });
      show(job);
      follow(job.url);
    } catch (err) {
      setBusy(false);
      status.classList.add("error");
      status.textContent = `No mix: ${err.message}`;
    }
  }

  function setBusy(busy) {
    $("mix-panel").dataset.busy = String(busy);
    for (const id of ["mix-queue", "mix-here", "mix-path"]) if (busy) $(id).disabled = true;
    if (!busy) refreshButtons();
  }

  function stopPolling() {
    clearTimeout(M.poll);
    M.poll = null;
  }

  function follow(url) {
    stopPolling();
    const tick = async () => {
      try {
        const job = await call(url);
        progress(job);
        if (job.status === "done" || job.status === "failed") {
          show(job);
          setBusy(false);
          loadList();
          if (job.status === "done") $("mix-player").play().catch(() => {});
          return;
        }
      } catch (err) {
        $("mix-status").textContent = `Lost the mix: ${err.message}`;
        setBusy(false);
        return;
      }
      M.poll = setTimeout(tick, POLL_MS);
    };
    M.poll = setTimeout(tick, POLL_MS);
  }

  function progress(job) {
    const bar = $("mix-progress");
    const status = $("mix-status");
    status.classList.toggle("error", job.status === "failed");
    $("mix-panel").dataset.status = job.status;
    if (job.status === "queued" || job.status === "rendering") {
      bar.hidden = false;
      bar.value = job.progress;
      status.textContent = job.status === "queued"
        ? "Waiting for the mix before it to finish…"
        : `Rendering ${clock(job.duration_s)} of mix… ${Math.round(job.progress * 100)} %`;
    } else {
      bar.hidden = true;
      status.textContent = job.status === "done"
        ? `Mixed: ${job.n_segments} songs, ${clock(job.duration_s)}.`
        : `The mix failed: ${job.error}`;
    }
  }

  // -- showing a mix ---------------------------------------------------------------------

  function transitionText(t) {
    const kind = t.kind === "beatmatched"
      ? `beat-matched over ${t.bars} bar${t.bars === 1 ? "" : "s"} (${t.style})` : "equal-power fade";
    const bits = [`${clock(t.mix_start_s)}–${clock(t.mix_end_s)} ${kind}`];
    if (t.tempo_ratio) bits.push(`tempo ratio ${Number(t.tempo_ratio).toFixed(3)}`);
    if (t.key_relation) bits.push(`key: ${t.key_relation}`);
    if (t.cost !== null && t.cost !== undefined) bits.push(`cost ${Number(t.cost).toFixed(2)}`);
    if (t.reason) bits.push(t.reason);
    return bits.join(" · ");
  }

  function timeline(plan) {
    const total = plan.duration_s || 1;
    const pct = (s) => `${(100 * s / total).toFixed(3)}%`;
    const box = make("div", { id: "mix-timeline", class: "mix-timeline", tabindex: "0", role: "slider",
      "aria-label": "Mix timeline: click or use the arrow keys to seek", "aria-valuemin": "0",
      "aria-valuemax": String(Math.round(total)), "aria-valuenow": "0" });
    plan.segments.forEach((s) => {
      const seg = make("div", { class: `mix-seg lane-${s.index % 2}`, "data-index": String(s.index),
        title: `${s.index + 1}. ${segName(s)} · ${clock(s.mix_start_s)}–${clock(s.mix_end_s)} · ${s.part}` +
               (s.on_grid ? "" : ` · no beat grid: ${s.grid_note || "faded"}`) },
      make("span", { text: `${s.index + 1}. ${segName(s)}` }));
      seg.style.left = pct(s.mix_start_s);
      seg.style.width = pct(s.mix_end_s - s.mix_start_s);
      box.append(seg);
    });
    plan.transitions.forEach((t) => {
      const mark = make("div", { class: `mix-tr ${t.kind}`, "data-index": String(t.index),
        "data-kind": t.kind, title: transitionText(t) });
      mark.style.left = pct(t.mix_start_s);
      mark.style.width = pct(Math.max(0.2, t.mix_end_s - t.mix_start_s));
      box.append(mark);
    });
    const head = make("div", { class: "mix-head", id: "mix-head" });
    box.append(head);
    const seek = (s) => {
      const player = $("mix-player");
      const to = Math.max(0, Math.min(total, s));
      M.seekTo = to;
      // Until the browser knows the file's duration and can seek that far (a fresh load,
      // a busy machine), a seek would be clamped to 0: keep it and apply it once it can.
      const reachable = () => {
        const r = player.seekable;
        return player.readyState >= 1 && r.length > 0 && r.end(r.length - 1) >= Math.min(to, player.duration || 0) - 0.05;
      };
      const apply = () => {
        if (M.seekTo !== to) return;  // a later seek replaced this one
        if (!reachable()) return false;
        player.currentTime = to;
        M.seekTo = null;
        return true;
      };
      if (apply() === false) {
        const retry = () => {
          if (apply() !== false) ["loadedmetadata", "durationchange", "progress", "canplay"].forEach((e) => player.removeEventListener(e, retry));
        };
        ["loadedmetadata", "durationchange", "progress", "canplay"].forEach((e) => player.addEventListener(e, retry));
      }
      playhead(to);
    };
    box.addEventListener("click", (ev) => {
      const r = box.getBoundingClientRect();
      seek(((ev.clientX - r.left) / r.width) * total);
    });
    box.addEventListener("keydown", (ev) => {
      const now = $("mix-player").currentTime || 0;
      if (ev.key === "ArrowRight") seek(now + 5);
      else if (ev.key === "ArrowLeft") seek(now - 5);
      else if (ev.key === "Home") seek(0);
      else return;
      ev.preventDefault();
    });
    M.seek = seek;
    return box;
  }

  function playhead(s) {
    const head = $("mix-head");
    if (!head || !M.duration) return;
    head.style.left = `${Math.min(100, (100 * s) / M.duration)}%`;
    $("mix-timeline").setAttribute("aria-valuenow", String(Math.round(s)));
    $("mix-timeline").setAttribute("aria-valuetext", clock(s));
  }

  function legend(plan) {
    const n = plan.transitions.length;
    const beat = plan.transitions.filter((t) => t.kind === "beatmatched").length;
    const tempo = plan.master_tempo_bpm ? ` at ${Math.round(plan.master_tempo_bpm)} BPM` : "";
    const cost = (plan.order && plan.order.mean_cost) || {};
    const f = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(2));
    const order = plan.order
      ? ` Order: ${plan.order.method}; mean transition cost ${f(cost.plan)} (as given ${f(cost.given)}, random ${f(cost.random)}).`
      : "";
    return make("p", { class: "muted small mix-legend" },
      make("span", { class: "mix-key beatmatched" }), ` ${beat} beat-matched `,
      make("span", { class: "mix-key fade" }), ` ${n - beat} faded transition${n - beat === 1 ? "" : "s"}${tempo}.${order}`);
  }

  function show(job) {
    M.job = job;
    progress(job);
    const out = $("mix-result");
    const plan = job.plan;
    if (!plan) { out.hidden = true; return; }
    M.duration = plan.duration_s;
    out.hidden = false;
    out.dataset.id = job.id;
    $("mix-title").textContent = job.title;
    const player = $("mix-player");
    const src = job.status === "done" ? job.audio_url : "";
    if (src && player.getAttribute("src") !== src) player.setAttribute("src", src);
    if (!src) { player.removeAttribute("src"); player.load(); }
    player.hidden = !src;
    $("mix-timeline").replaceWith(timeline(plan));
    $("mix-legend").replaceWith(Object.assign(legend(plan), { id: "mix-legend" }));
    const list = $("mix-tracks");
    list.replaceChildren(...plan.segments.map((s) => make("li", { "data-id": s.track_id },
      make("button", { type: "button", class: "pick", title: "Play the mix from here",
                       onclick: () => { M.seek(s.mix_start_s); player.play().catch(() => {}); } },
        make("span", { class: "name", text: `${s.index + 1}. ${segName(s)}` }),
        make("span", { class: "muted small", text: `${clock(s.mix_start_s)} · ${s.part}` })))));
    const links = $("mix-downloads");
    links.replaceChildren();
    if (job.status === "done") {
      links.append(
        make("a", { id: "mix-download", href: job.audio_url, download: job.downloads.audio, text: "Download the mix (.ogg)" }), " · ",
        make("a", { href: job.cue_url, download: job.downloads.cue, text: "CUE sheet" }), " · ",
        make("a", { href: job.m3u8_url, download: job.downloads.m3u8, text: "source playlist (.m3u8)" }));
    }
  }

  async function loadList() {
    const list = $("mix-list");
    try {
      const res = await call("/api/mixes");
      const done = res.mixes.filter((m) => m.status === "done");
      $("mix-earlier").hidden = !done.length;
      list.replaceChildren(...done.slice(0, 12).map((m) => make("li", { "data-mix": m.id },
        make("button", { type: "button", class: "pick", title: "Show and play this mix",
                         onclick: () => open(m.url) },
          make("span", { class: "name", text: m.title }),
          make("span", { class: "muted small", text: `${clock(m.duration_s)} · ${m.created.slice(0, 16).replace("T", " ")}` })))));
    } catch (_) {
      list.replaceChildren();
    }
  }

  async function open(url) {
    try {
      show(await call(url));
    } catch (err) {
      $("mix-status").textContent = err.message;
    }
  }

  // -- the panel -------------------------------------------------------------------------

  function build() {
    const select = (id, label, values) => make("label", { class: "small muted" }, `${label} `,
      make("select", { id }, ...values.map(([v, text]) => make("option", { value: v, text }))));
    const panel = make("section", { id: "mix-panel", class: "panel", "aria-labelledby": "mix-heading", "data-status": "idle" },
      make("h2", { id: "mix-heading", text: "Mix" }),
      make("p", { class: "muted small", text: "A DJ mix rendered on the server: beat-matched where both songs have a steady beat, faded where not." }),
      make("div", { class: "row" },
        select("mix-segments", "Play", [["auto", "auto"], ["highlight", "highlights"], ["full", "full songs"]]),
        select("mix-style", "Join", [["bass-swap", "bass swap"], ["crossfade", "crossfade"]])),
      make("div", { class: "row" },
        make("button", { type: "button", id: "mix-queue", onclick: mixQueue }, "Mix the queue"),
        make("label", { class: "small" }, make("input", { type: "checkbox", id: "mix-reorder" }), " smoothest order")),
      make("div", { class: "row" },
        make("button", { type: "button", id: "mix-here", onclick: mixHere }, "Mix from here"),
        make("label", { class: "small muted", for: "mix-count" }, "songs"),
        make("input", { id: "mix-count", type: "number", min: "2", max: String(MAX_TRACKS), value: "8" })),
      make("div", { class: "row" },
        make("button", { type: "button", id: "mix-path", onclick: mixPath }, "Mix path A→B")),
      make("p", { id: "mix-status", class: "muted small", role: "status", "aria-live": "polite" }),
      make("progress", { id: "mix-progress", max: "1", value: "0", hidden: "" }),
      make("div", { id: "mix-result", hidden: "" },
        make("p", { id: "mix-title", class: "mix-title" }),
        make("audio", { id: "mix-player", controls: "", preload: "metadata" }),
        make("div", { id: "mix-timeline" }),
        make("p", { id: "mix-legend" }),
        make("p", { id: "mix-downloads", class: "small" }),
        make("ol", { id: "mix-tracks", class: "track-list" }),
        make("div", { id: "mix-save", class: "list-save" })),
      make("div", { id: "mix-earlier", hidden: "" },
        make("h3", { text: "Earlier mixes" }),
        make("ul", { id: "mix-list", class: "track-list" })));
    const after = $("queue-panel");
    if (after) after.after(panel);
    else ($("side") || document.body).append(panel);
    document.head.append(make("style", { id: "mix-style-block" }, `
      #mix-panel select { max-width: 9.5rem; }
      #mix-count { width: 4.2rem; background: var(--panel-2, #1c2740); border: 1px solid #33415f; border-radius: 8px; padding: 4px 6px; }
      #mix-progress { width: 100%; accent-color: var(--accent, #6cb4ff); }
      #mix-status.error { color: var(--danger, #ff6b81); }
      #mix-player { width: 100%; margin: 4px 0; }
      .mix-title { margin: 6px 0 2px; font-weight: 600; }
      .mix-timeline { position: relative; height: 58px; margin: 6px 0 2px; border-radius: 6px; cursor: pointer;
        background: var(--panel-2, #1c2740); overflow: hidden; user-select: none; }
      .mix-seg { position: absolute; height: 22px; border-radius: 4px; padding: 2px 5px; font-size: .72rem;
        line-height: 18px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; color: #e6ebf3;
        background: #2b3a5c; border: 1px solid #3d5180; }
      .mix-seg.lane-0 { top: 4px; } .mix-seg.lane-1 { top: 31px; background: #27405a; }
      .mix-tr { position: absolute; top: 0; bottom: 0; opacity: .55; border-left: 2px solid; border-right: 2px solid; }
      .mix-tr.beatmatched, .mix-key.beatmatched { background: rgba(6, 214, 160, .35); border-color: #06d6a0; }
      .mix-tr.fade, .mix-key.fade { background: rgba(255, 183, 77, .35); border-color: #ffb74d; }
      .mix-tr:hover { opacity: .9; }
      .mix-key { display: inline-block; width: 12px; height: 10px; border: 1px solid; vertical-align: middle; }
      .mix-head { position: absolute; top: 0; bottom: 0; width: 2px; left: 0; background: #fff; pointer-events: none; }
      #mix-downloads a { color: var(--accent, #6cb4ff); }
      #mix-panel .track-list li { min-width: 0; }
      #mix-panel .track-list .pick { min-width: 0; flex: 1 1 auto; }
    `));
    const player = $("mix-player");
    player.addEventListener("timeupdate", () => playhead(player.currentTime));
    player.addEventListener("play", () => {
      for (const id of ["player", "preview"]) { const a = $(id); if (a && !a.paused) a.pause(); }
    });
    const main = $("player");
    if (main) main.addEventListener("play", () => { if (!player.paused) player.pause(); });
    const L = window.songscapeListen;
    if (L && L.mountListSave) {
      L.mountListSave($("mix-save"), {
        key: "mix", list: $("mix-tracks"),
        source: () => (M.job ? `mix:${M.job.id}` : "mix"),
        suggest: () => (M.job ? `Mix ${M.job.title}` : "Mix"),
      });
    }
    for (const id of ["queue", "path-list"]) {
      const node = $(id);
      if (node) new MutationObserver(refreshButtons).observe(node, { childList: true });
    }
    new MutationObserver(refreshButtons).observe(document.body, { attributes: true, attributeFilter: ["data-selected"] });
    if (main) new MutationObserver(refreshButtons).observe(main, { attributes: true, attributeFilter: ["data-track-id", "src"] });
    refreshButtons();
    loadList();
  }

  window.songscapeMix = { state: M, start, open, show, refreshButtons, loadList };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", build);
  else build();
})();
