/* songscape map page, the Identify panel (issue 20): drop or pick an audio clip (or record
 * one from the microphone with MediaRecorder), POST it to /api/identify, and show which
 * library recording it was cut from (title, artist, where the clip sits in it, how many
 * seconds matched) or that it is not in the library; then the similar tracks, each with
 * how it was matched (whole track or 10 s windows) and its best window. Clicking a result
 * selects the song and plays it in the page's player from that window's start (the
 * identified song: from where the clip sits).
 *
 * Self-contained but for dom.js (make): a panel added after the song panel, its own style
 * block, no globals but window.songscapeIdentify (for tests and the console). It uses
 * window.songscape (app.js: selectId, play, duration) when present. Library text goes
 * into the DOM through textContent only. Clips stay in memory and are sent once; nothing
 * is stored.
 */
"use strict";

(() => {
  const K = 10;
  const MAX_RECORD_S = 30;
  const MAX_BYTES = 32 * 1024 * 1024; // the server's limit (MAX_CLIP_BYTES)
  const I = { recorder: null, chunks: [], timer: null, answer: null, seq: 0 };

  const { make } = window.songscapeDom;  // dom.js
  const $ = (id) => document.getElementById(id);
  const clock = (s) => {
    if (!Number.isFinite(s)) return "–";
    const t = Math.max(0, Math.round(s));
    return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")}`;
  };
  const nameOf = (t) => {
    const title = t.display_title || t.title || (t.path || t.id || "").split("/").pop();
    return t.artist ? `${title} — ${t.artist}` : title;
  };

  function setStatus(text, kind = "") {
    const status = $("identify-status");
    status.textContent = text;
    status.classList.toggle("error", kind === "error");
  }

  // -- sending a clip --------------------------------------------------------------------

  async function send(blob, filename) {
    if (!blob || !blob.size) { setStatus("The clip is empty.", "error"); return; }
    if (blob.size > MAX_BYTES) { setStatus("The clip is larger than 32 MB: cut a shorter one.", "error"); return; }
    const seq = ++I.seq;
    const panel = $("identify-panel");
    panel.dataset.status = "busy";
    $("identify-result").replaceChildren();
    setStatus(`Listening to ${filename}…`);
    const q = new URLSearchParams({ k: String(K), filename });
    try {
      const res = await fetch(`/api/identify?${q}`, {
        method: "POST", body: blob,
        headers: { "Content-Type": blob.type || "application/octet-stream", Accept: "application/json" },
      });
      let body = null;
      try { body = await res.json(); } catch (_) { body = null; }
      if (seq !== I.seq) return; // a later clip replaced this one
      if (!res.ok) {
        panel.dataset.status = "error";
        setStatus(`No answer: ${(body && body.error) || `${res.status} ${res.statusText}`}`, "error");
        return;
      }
      I.answer = body;
      setStatus("");
      show(body, filename);
      panel.dataset.status = "done";
    } catch (err) {
      if (seq !== I.seq) return;
      panel.dataset.status = "error";
      setStatus(`Could not reach the server: ${err.message || err}`, "error");
    }
  }

  // -- showing the answer ----------------------------------------------------------------

  function show(body, filename) {
    const out = $("identify-result");
    const parts = [];
    const found = body.identified;
    if (found && body.track) {
      const t = body.track;
      const box = make("div", { id: "identify-found", class: "identify-found", "data-id": found.id },
        make("p", { class: "identify-verdict", text: "In your library:" }),
        make("p", { class: "identify-name", text: nameOf(t) }),
        make("p", { class: "muted small", id: "identify-where",
          text: `the clip starts at ${clock(found.offset_s)} (${found.offset_s.toFixed(1)} s) ` +
                `in it; ${found.matched_s.toFixed(1)} s of the clip matched` }),
        make("button", { type: "button", id: "identify-play", "data-start": String(found.offset_s),
          onclick: () => playFrom(t.id, found.offset_s, "where the clip sits") },
        `▶ Play from ${clock(found.offset_s)}`));
      parts.push(box);
    } else {
      parts.push(make("div", { id: "identify-none", class: "identify-none" },
        make("p", { class: "identify-verdict", text: "Not in the library." }),
        make("p", { class: "muted small", text: body.note
          ? `Nothing was identified: ${body.note}`
          : `No recording of your library matches ${filename}; these are the songs that sound most like it.` })));
    }
    const similar = body.similar || [];
    if (similar.length) {
      const how = body.matched_by === "segment"
        ? "matched by 10 s windows (click: play from the window)"
        : "matched by whole-track vectors";
      parts.push(make("h3", { text: `Similar songs · ${how}` }));
      const list = make("ol", { id: "identify-similar", class: "track-list", "data-matched-by": body.matched_by || "" });
      for (const r of similar) list.append(resultItem(r, body.matched_by));
      parts.push(list);
    }
    out.replaceChildren(...parts);
  }

  function resultItem(r, matchedBy) {
    const w = r.window;
    const start = w && Number.isFinite(w.start_s) ? w.start_s : 0;
    const bits = [];
    if (w) {
      const own = Number.isFinite(w.query_start_s)
        ? ` ≈ your clip ${clock(w.query_start_s)}–${clock(w.query_start_s + (w.end_s - w.start_s))}` : "";
      bits.push(`${matchedBy || "segment"} match: its window ${clock(w.start_s)}–${clock(w.end_s)}${own}`);
    } else {
      bits.push(`${matchedBy || "track"} match`);
    }
    bits.push(`similarity ${Number(r.score).toFixed(2)}`);
    const pick = make("button", { type: "button", class: "pick",
      title: w ? `Play from ${clock(start)}, the part that matched` : "Play this song" },
    make("span", { class: "name", text: nameOf(r) }),
    make("span", { class: "muted small why", text: bits.join(" · ") }));
    pick.addEventListener("click", () => playFrom(r.id, start, w ? "the matching window" : ""));
    return make("li", { "data-id": r.id, "data-start": String(start) }, pick);
  }

  // -- playing a result in the page's player ---------------------------------------------

  async function playFrom(id, start, why) {
    const app = window.songscape;
    const player = $("player");
    let track = { id, audio_url: `/api/tracks/${encodeURIComponent(id)}/audio` };
    if (app && app.selectId) {
      await app.selectId(id, { autoplay: false }); // the map and the song panel follow
      if (app.state.selectedTrack && app.state.selectedTrack.id === id) track = app.state.selectedTrack;
    }
    const seek = () => { player.currentTime = start; };
    if (app && app.play) {
      app.play(track, { fromStart: true });
    } else {
      player.src = track.audio_url;
      player.dataset.trackId = id;
      player.play().catch(() => {});
    }
    player.dataset.start = String(start);
    if (player.readyState >= 1 && player.dataset.trackId === id) seek();
    else player.addEventListener("loadedmetadata", seek, { once: true });
    const playing = $("now-playing");
    if (playing) {
      playing.textContent = `Playing: ${nameOf(track)}` + (start > 0 ? ` from ${clock(start)}${why ? ` (${why})` : ""}` : "");
    }
  }

  // -- recording -------------------------------------------------------------------------

  async function toggleRecording() {
    const button = $("identify-record");
    if (I.recorder) { I.recorder.stop(); return; }
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      setStatus("This browser cannot record: choose a file instead.", "error"); return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      setStatus(`No microphone: ${err.message || err}`, "error"); return;
    }
    const rec = new MediaRecorder(stream);
    I.recorder = rec; I.chunks = [];
    rec.ondataavailable = (e) => { if (e.data.size) I.chunks.push(e.data); };
    rec.onstop = () => {
      clearTimeout(I.timer);
      stream.getTracks().forEach((t) => t.stop());
      I.recorder = null;
      button.textContent = "● Record";
      button.setAttribute("aria-pressed", "false");
      const type = rec.mimeType || "audio/webm";
      send(new Blob(I.chunks, { type }), type.includes("ogg") ? "recording.ogg" : "recording.webm");
    };
    rec.start();
    button.textContent = "■ Stop";
    button.setAttribute("aria-pressed", "true");
    setStatus(`Recording: hold the microphone near the music (10–${MAX_RECORD_S} s)…`);
    I.timer = setTimeout(() => rec.state === "recording" && rec.stop(), MAX_RECORD_S * 1000);
  }

  // -- the panel -------------------------------------------------------------------------

  function build() {
    const file = make("input", { type: "file", id: "identify-file", accept: "audio/*", class: "visually-hidden" });
    const drop = make("label", { id: "identify-drop", class: "identify-drop", for: "identify-file" },
      make("strong", { text: "Drop an audio clip here" }),
      make("span", { class: "muted small", text: "or click to choose a file (any format, 5–60 s works best)" }));
    const panel = make("section", { id: "identify-panel", class: "panel", "aria-labelledby": "identify-title", "data-status": "idle" },
      make("h2", { id: "identify-title", text: "Identify a clip" }),
      make("p", { class: "muted small", text: "Is this song in my library, and where? Then the songs that sound like it. Clips are not stored." }),
      file, drop,
      make("div", { class: "row" },
        make("button", { type: "button", id: "identify-record", "aria-pressed": "false", onclick: toggleRecording }, "● Record")),
      make("p", { id: "identify-status", class: "small", role: "status", "aria-live": "polite" }),
      make("div", { id: "identify-result", "aria-live": "polite" }));
    file.addEventListener("change", () => {
      const f = file.files[0];
      if (f) send(f, f.name);
      file.value = ""; // the same file again is a new request
    });
    for (const ev of ["dragenter", "dragover"]) {
      drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
    }
    for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      const f = e.dataTransfer && e.dataTransfer.files[0];
      if (f) send(f, f.name);
    });
    const after = $("info-panel");
    if (after) after.after(panel);
    else ($("side") || document.body).append(panel);
    document.head.append(make("style", { id: "identify-style-block" }, `
      .identify-drop { display: flex; flex-direction: column; align-items: center; gap: 2px;
        padding: 14px 10px; margin: 6px 0; border: 2px dashed #3b4b6e; border-radius: 8px;
        text-align: center; cursor: pointer; }
      .identify-drop:hover, .identify-drop.over { border-color: var(--accent, #6cb4ff); background: #1a2540; }
      #identify-file:focus-visible + .identify-drop { outline: 3px solid var(--accent, #6cb4ff); outline-offset: 2px; }
      #identify-status { margin: 6px 0 0; }
      #identify-status:empty { display: none; }
      #identify-record[aria-pressed="true"] { background: #ef476f; color: #000; border-color: #ef476f; }
      .identify-found, .identify-none { margin: 8px 0 0; padding: 8px 10px; border-radius: 8px; }
      .identify-found { border-left: 4px solid var(--accent-2, #06d6a0); background: #15302b; }
      .identify-none { border-left: 4px solid #ffd166; background: #2b2a1c; }
      .identify-found p, .identify-none p { margin: 0 0 3px; }
      .identify-verdict { font-weight: 600; }
      .identify-name { font-size: 1.05rem; overflow-wrap: anywhere; }
      #identify-similar .pick { border-left: 4px solid var(--accent-2, #06d6a0); }
      #identify-similar .why { white-space: normal; }`));
  }

  window.songscapeIdentify = { state: I, send, playFrom };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", build);
  else build();
})();
