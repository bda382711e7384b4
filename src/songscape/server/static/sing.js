/* songscape map page, the Sing panel (issue 14): record your voice (MediaRecorder) or
 * upload a file, POST it to /api/sing, draw your range on a piano keyboard, list the songs
 * that suit it with their key and fit, and "hear it in my key": 15 s of the song from
 * its highlight, moved by the suggested transposition at its own tempo (rendered by the
 * server: GET /api/tracks/{id}/key-preview?transpose=t).
 *
 * Self-contained: it adds its own button and panel and uses no globals of app.js.
 * Library text goes into the DOM through textContent only. Recordings stay in memory and
 * are sent once; nothing is stored.
 */
"use strict";

(() => {
  const NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
  const KEY_LOW = 36; // C2
  const KEY_HIGH = 84; // C6
  const MAX_RECORD_S = 60;
  const state = { recorder: null, chunks: [], timer: null, audio: null };

  const noteName = (m) => { const r = Math.round(m); return NAMES[((r % 12) + 12) % 12] + (Math.floor(r / 12) - 1); };

  function make(tag, attrs = {}, text = null) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== null) node.textContent = text;
    return node;
  }

  function keyboard(voice) {
    const NS = "http://www.w3.org/2000/svg";
    const white = [];
    for (let m = KEY_LOW; m <= KEY_HIGH; m++) if (![1, 3, 6, 8, 10].includes(m % 12)) white.push(m);
    const w = 10, h = 46, svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", `0 0 ${white.length * w} ${h}`);
    svg.setAttribute("class", "sing-keys");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", `your range ${noteName(voice.range_midi[0])} to ${noteName(voice.range_midi[1])}`);
    const [lo, hi] = voice.range_midi, [clo, chi] = voice.comfortable_midi;
    const fill = (m, black) => {
      if (m >= clo - 0.5 && m <= chi + 0.5) return black ? "#1b7f5a" : "#5fd3a4";
      if (m >= lo - 0.5 && m <= hi + 0.5) return black ? "#2d5f86" : "#9cc9ee";
      return black ? "#222" : "#fff";
    };
    white.forEach((m, i) => {
      const r = document.createElementNS(NS, "rect");
      Object.entries({ x: i * w, y: 0, width: w - 0.5, height: h, fill: fill(m, false), stroke: "#777", "stroke-width": 0.4 })
        .forEach(([k, v]) => r.setAttribute(k, v));
      svg.appendChild(r);
      if (m % 12 === 0) {
        const t = document.createElementNS(NS, "text");
        Object.entries({ x: i * w + 1, y: h - 3, "font-size": 6, fill: "#333" }).forEach(([k, v]) => t.setAttribute(k, v));
        t.textContent = noteName(m);
        svg.appendChild(t);
      }
    });
    white.forEach((m, i) => {
      if ([0, 2, 5, 7, 9].includes(m % 12) && m + 1 <= KEY_HIGH) {
        const r = document.createElementNS(NS, "rect");
        Object.entries({ x: i * w + w * 0.65, y: 0, width: w * 0.7, height: h * 0.6, fill: fill(m + 1, true) })
          .forEach(([k, v]) => r.setAttribute(k, v));
        svg.appendChild(r);
      }
    });
    return svg;
  }

  function stopPreview() {
    if (state.audio) { state.audio.pause(); state.audio = null; }
  }

  function hear(result, button) {
    // the server moves the highlight by the transposition at the song's own tempo
    stopPreview();
    const t = result.transpose_semitones || 0;
    const a = new Audio(`/api/tracks/${encodeURIComponent(result.id)}/key-preview?transpose=${t}`);
    state.audio = a;
    const label = button.textContent;
    button.textContent = "rendering…";
    button.disabled = true;
    const done = () => { button.textContent = label; button.disabled = false; };
    a.addEventListener("playing", done, { once: true });
    a.addEventListener("error", done, { once: true });
    a.play().catch(done);
  }

  function show(panel, body) {
    const out = panel.querySelector(".sing-out");
    out.replaceChildren();
    const v = body.voice;
    out.appendChild(make("p", {}, `Your range ${noteName(v.range_midi[0])}–${noteName(v.range_midi[1])}, ` +
      `comfortable ${noteName(v.comfortable_midi[0])}–${noteName(v.comfortable_midi[1])}, ` +
      `tessitura ${noteName(v.tessitura_midi)} (${v.voiced_s.toFixed(1)} s sung)`));
    out.appendChild(keyboard(v));
    const list = make("ol", { class: "sing-results" });
    for (const r of body.results) {
      const li = make("li");
      const name = [r.artist, r.title].filter(Boolean).join(" – ") || r.id;
      li.appendChild(make("strong", {}, name));
      const key = r.sung_key ? ` · sing in ${r.sung_key}` : "";
      const move = r.transpose_semitones ? ` (${r.transpose_semitones > 0 ? "+" : ""}${r.transpose_semitones})` : "";
      li.appendChild(make("span", {}, ` ${Math.round(r.range_fit * 100)} % fit${key}${move}`));
      const btn = make("button", { type: "button" }, "hear it in my key");
      btn.addEventListener("click", () => hear(r, btn));
      li.appendChild(btn);
      li.appendChild(make("div", { class: "sing-why" }, r.explanation));
      list.appendChild(li);
    }
    out.appendChild(list);
    if (body.songs_without_vocals) {
      out.appendChild(make("p", { class: "sing-why" }, `${body.songs_without_vocals} song(s) not analysed yet (songscape vocals).`));
    }
  }

  async function send(panel, blob, filename) {
    const status = panel.querySelector(".sing-status");
    status.textContent = "listening to your voice…";
    const form = new FormData();
    form.append("file", blob, filename);
    try {
      const res = await fetch("/api/sing?k=10", { method: "POST", body: form });
      const body = await res.json();
      if (!res.ok) { status.textContent = body.error || `error ${res.status}`; return; }
      status.textContent = "";
      show(panel, body);
    } catch (err) {
      status.textContent = `could not reach the server: ${err}`;
    }
  }

  async function toggleRecording(panel, button) {
    const status = panel.querySelector(".sing-status");
    if (state.recorder) { state.recorder.stop(); return; }
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      status.textContent = "this browser cannot record: upload a file instead"; return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      status.textContent = `no microphone: ${err.message || err}`; return;
    }
    const rec = new MediaRecorder(stream);
    state.recorder = rec; state.chunks = [];
    rec.ondataavailable = (e) => { if (e.data.size) state.chunks.push(e.data); };
    rec.onstop = () => {
      clearTimeout(state.timer);
      stream.getTracks().forEach((t) => t.stop());
      state.recorder = null;
      button.textContent = "● Record";
      const type = rec.mimeType || "audio/webm";
      const blob = new Blob(state.chunks, { type });
      send(panel, blob, type.includes("ogg") ? "voice.ogg" : "voice.webm");
    };
    rec.start();
    button.textContent = "■ Stop";
    status.textContent = "recording: sing a verse or a scale (10–30 s)…";
    state.timer = setTimeout(() => rec.state === "recording" && rec.stop(), MAX_RECORD_S * 1000);
  }

  function build() {
    const open = make("button", { type: "button", class: "sing-open", title: "Sing: songs that suit your voice" }, "Sing");
    const panel = make("section", { class: "sing-panel", hidden: "", "aria-label": "Sing" });
    panel.appendChild(make("h2", {}, "Sing"));
    panel.appendChild(make("p", { class: "sing-why" }, "Record or upload yourself singing: the songs that suit your voice, each in the key that fits. Recordings are not stored."));
    const rec = make("button", { type: "button" }, "● Record");
    const file = make("input", { type: "file", accept: "audio/*" });
    const close = make("button", { type: "button", class: "sing-close", "aria-label": "close" }, "×");
    panel.append(close, rec, file, make("div", { class: "sing-status", role: "status" }), make("div", { class: "sing-out" }));
    rec.addEventListener("click", () => toggleRecording(panel, rec));
    file.addEventListener("change", () => { if (file.files[0]) send(panel, file.files[0], file.files[0].name); });
    open.addEventListener("click", () => { panel.hidden = !panel.hidden; });
    close.addEventListener("click", () => { panel.hidden = true; stopPreview(); });
    const style = make("style", {}, `
      .sing-open{position:fixed;right:14px;bottom:14px;z-index:50;padding:6px 14px;border-radius:16px;border:1px solid #5fd3a4;background:#123a2c;color:#e8fff5;font-weight:600;cursor:pointer}
      .sing-panel{position:fixed;right:14px;bottom:54px;z-index:50;width:min(440px,92vw);max-height:70vh;overflow:auto;background:#fff;color:#111;border:1px solid #999;border-radius:8px;padding:10px 12px;box-shadow:0 4px 18px rgba(0,0,0,.25);font:13px system-ui,sans-serif}
      .sing-panel h2{margin:0 0 4px;font-size:15px}.sing-close{float:right}
      .sing-keys{width:100%;height:60px;margin:6px 0}.sing-why{color:#555;font-size:12px}
      .sing-results li{margin:6px 0}.sing-results button{margin-left:6px;font-size:11px}`);
    document.head.appendChild(style);
    document.body.append(open, panel);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", build);
  else build();
})();
