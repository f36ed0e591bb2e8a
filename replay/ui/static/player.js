// The player page: a noVNC canvas connected to a render-mode replay
// (?replay=ID), driven through the replay's control WebSocket.
import { api, el, fmtDuration, fmtLink, parseTime } from "./common.js";

const params = new URLSearchParams(location.search);
const name = params.get("name") || "";
const speeds = [0.5, 1, 2, 4, 8, 16];
const $ = (id) => document.getElementById(id);
const errorBox = $("error");

function fail(msg) {
  errorBox.textContent = msg;
  errorBox.hidden = false;
}

// The replay's state, as the server last reported it, and when.
const st = { time: 0, paused: false, speed: 1, ended: false, at: performance.now() };
let info = null;
let control = null;
let pending = [];
let dragging = false;
const replayID = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
const wsBase = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;

// now returns the replay's recording time in seconds.
function now() {
  let t = st.time;
  if (!st.paused && !st.ended) t += (performance.now() - st.at) / 1000 * st.speed;
  return Math.min(t, info ? info.duration_ns / 1e9 : t);
}

function setState(s) {
  if (s.error) { fail(s.error); return; }
  st.time = s.time_ns / 1e9;
  st.paused = s.paused;
  st.speed = s.speed;
  st.ended = s.ended;
  st.at = performance.now();
  $("play").textContent = st.paused ? "Play" : "Pause";
  const sel = $("speed");
  if (Number(sel.value) !== st.speed && speeds.includes(st.speed)) sel.value = String(st.speed);
  document.body.dataset.speed = String(st.speed);
  updateVideoLink();
  document.body.dataset.paused = String(st.paused);
  tick();
}

// The binary subprotocol carries no text frames: commands go as bytes.
const encoder = new TextEncoder();

// send runs a control command: {"action": "seek", "to": "90"}.
function send(cmd) {
  if (!control || control.readyState !== WebSocket.OPEN) { pending.push(cmd); return; }
  control.send(encoder.encode(JSON.stringify(cmd) + "\n"));
}

function openControl() {
  control = new WebSocket(wsBase + "/replays/" + replayID + "/control", ["binary"]);
  control.binaryType = "arraybuffer";
  let buf = "";
  const dec = new TextDecoder();
  control.onopen = () => { const p = pending; pending = []; for (const c of p) send(c); };
  control.onmessage = (ev) => {
    buf += typeof ev.data === "string" ? ev.data : dec.decode(ev.data, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) setState(JSON.parse(line));
    }
  };
}

function seek(t) {
  t = Math.max(0, Math.min(t, info.duration_ns / 1e9));
  st.time = t;
  st.at = performance.now();
  send({ action: "seek", to: t.toFixed(3) });
  history.replaceState(null, "", "#t=" + fmtLink(t));
  tick();
}

// videoURL is the export of the session as the player shows it: its
// speed, and idle stretches cut to 1 s when Skip idle is on.
function videoURL() {
  const q = new URLSearchParams({ name, format: $("video-format").value, speed: String(st.speed) });
  if ($("skip-idle").checked) q.set("idle", "1");
  return "api/video?" + q;
}

function updateVideoLink() {
  const a = $("video");
  a.href = videoURL();
  a.download = name.replace(/^.*\//, "").replace(/\.[^.]*$/, "") + "." + $("video-format").value;
}

// downloadVideo has the server make the video, showing how far it is,
// then downloads it from the server's cache of finished videos; an error
// shows in the page instead of as a broken download.
let exporting = false;
async function downloadVideo(ev) {
  ev.preventDefault();
  if (exporting) return;
  exporting = true;
  const url = videoURL();
  const state = $("video-state");
  const show = (text) => { state.textContent = text; document.body.dataset.video = text; };
  show("Preparing video…");
  const status = setInterval(async () => {
    try {
      const s = await api(url.replace("api/video?", "videostatus?"));
      if (s.state === "exporting") show("Preparing video: " + Math.round(s.progress * 100) + "%");
    } catch (e) { /* the next poll tries again */ }
  }, 1000);
  const abort = new AbortController();
  try {
    const resp = await fetch(url, { credentials: "same-origin", signal: abort.signal });
    if (!resp.ok) {
      const body = await resp.json().catch(() => ({ error: resp.statusText }));
      const retry = resp.headers.get("Retry-After");
      show("Video: " + (body.error || resp.statusText) + (retry ? " (retry in " + retry + " s)" : ""));
      return;
    }
    abort.abort(); // made and kept: the download below gets it at once
    show("Video ready");
    const a = document.createElement("a");
    a.href = url;
    a.download = $("video").download;
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) {
    show("Video: " + e.message);
  } finally {
    clearInterval(status);
    exporting = false;
  }
}

function setSpeed(v) { send({ action: "speed", speed: String(v) }); }
function toggle() { send({ action: st.paused ? "resume" : "pause" }); }

// poll reads the replay's state, to follow it between commands.
async function poll() {
  try {
    const resp = await fetch("/replays/" + replayID, { credentials: "same-origin" });
    if (resp.ok) setState(await resp.json());
  } catch (e) { /* the next poll tries again */ }
}

function drawActivity() {
  const c = $("activity");
  const w = c.clientWidth || 800;
  c.width = w;
  const ctx = c.getContext("2d");
  const a = info.activity;
  if (!a.length) return;
  const per = Math.max(1, Math.ceil(a.length / w));
  const cols = [];
  for (let i = 0; i < a.length; i += per) {
    let s = 0;
    for (let j = i; j < i + per && j < a.length; j++) s += a[j];
    cols.push(s);
  }
  const max = Math.max(...cols, 1);
  ctx.fillStyle = "#5a8dd6";
  const dur = info.duration_ns / 1e9 || 1;
  cols.forEach((v, k) => {
    const x = (k * per) / dur * w;
    const h = Math.max(v ? 1 : 0, Math.sqrt(v / max) * c.height);
    ctx.fillRect(x, c.height - h, Math.max(1, per / dur * w), h);
  });
}

function buildEvents() {
  const items = [];
  for (const l of info.typed) items.push({ t: l.time, kind: "typed", text: l.text });
  for (const c of info.clicks) items.push({ t: c.time, kind: "click", text: c.buttons + " click at " + c.x + "," + c.y });
  for (const c of info.clipboard) items.push({ t: c.time, kind: "clipboard", text: c.from + " clipboard: " + c.text });
  for (const m of info.markers || []) items.push({ t: m.time_ns, kind: "marker", text: "marker: " + m.label });
  items.sort((a, b) => a.t - b.t);
  const ol = $("events");
  for (const it of items) {
    const li = el("li", undefined, it.kind);
    li.dataset.t = String(it.t / 1e9);
    li.append(el("time", fmtDuration(it.t / 1e9)), el("span", it.text));
    li.addEventListener("click", () => seek(it.t / 1e9));
    ol.append(li);
  }
  for (const m of info.markers || []) {
    const d = el("div", undefined, "marker");
    d.style.left = (m.time_ns / info.duration_ns * 100) + "%";
    d.title = m.label;
    $("markers").append(d);
  }
}

let current = null;
function tick() {
  if (!info) return;
  const t = now();
  const dur = info.duration_ns / 1e9;
  $("time").textContent = fmtDuration(t);
  if (!dragging) $("progress").style.width = (dur ? t / dur * 100 : 0) + "%";
  document.body.dataset.time = t.toFixed(3);
  // Highlight the last event at or before t.
  let cur = null;
  for (const li of $("events").children) {
    if (Number(li.dataset.t) <= t + 0.05) cur = li; else break;
  }
  if (cur !== current) {
    if (current) current.classList.remove("current");
    if (cur) { cur.classList.add("current"); cur.scrollIntoView({ block: "nearest" }); }
    current = cur;
  }
  // Skip idle: jump over stretches of 3 s or more without traffic.
  if ($("skip-idle").checked && !st.paused && !st.ended) {
    const a = info.activity, s = Math.floor(t);
    if (s + 1 < a.length && !a[s] && !a[s + 1]) {
      let n = s + 1;
      while (n < a.length && !a[n]) n++;
      if (n - t >= 3) seek(Math.min(n, dur));
    }
  }
}

function timeAt(ev) {
  const r = $("timeline").getBoundingClientRect();
  return Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width)) * info.duration_ns / 1e9;
}

function setupTimeline() {
  const tl = $("timeline");
  tl.addEventListener("pointerdown", (ev) => {
    dragging = true;
    tl.setPointerCapture(ev.pointerId);
    $("progress").style.width = (timeAt(ev) / (info.duration_ns / 1e9) * 100) + "%";
  });
  tl.addEventListener("pointermove", (ev) => {
    const t = timeAt(ev);
    if (dragging) $("progress").style.width = (t / (info.duration_ns / 1e9) * 100) + "%";
    const hv = $("hover");
    hv.hidden = false;
    const r = tl.getBoundingClientRect();
    hv.style.left = Math.max(0, Math.min(r.width - 160, ev.clientX - r.left - 80)) + "px";
    $("hover-time").textContent = fmtDuration(t);
    const src = "api/thumb?w=160&at=" + Math.floor(t) + "&name=" + encodeURIComponent(name);
    if ($("preview").getAttribute("src") !== src) $("preview").src = src;
  });
  tl.addEventListener("pointerleave", () => { $("hover").hidden = true; });
  tl.addEventListener("pointerup", (ev) => {
    if (!dragging) return;
    dragging = false;
    seek(timeAt(ev));
  });
}

function setupKeys() {
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) return;
    const step = ev.shiftKey ? 30 : 5;
    const i = speeds.indexOf(st.speed);
    switch (ev.key) {
      case " ": toggle(); break;
      case "ArrowLeft": seek(now() - step); break;
      case "ArrowRight": seek(now() + step); break;
      case "[": setSpeed(speeds[Math.max(0, (i < 0 ? 1 : i) - 1)]); break;
      case "]": setSpeed(speeds[Math.min(speeds.length - 1, (i < 0 ? 1 : i) + 1)]); break;
      default: return;
    }
    ev.preventDefault();
  });
}

async function main() {
  if (!name) { fail("no recording: open this page as play.html?name=NAME"); return; }
  document.title = name + " · wsreplay";
  $("title").textContent = name;
  $("download").href = "api/download?name=" + encodeURIComponent(name);
  updateVideoLink();
  $("video").addEventListener("click", downloadVideo);
  $("video-format").addEventListener("change", updateVideoLink);
  $("skip-idle").addEventListener("change", updateVideoLink);
  try {
    info = await api("recording?name=" + encodeURIComponent(name));
  } catch (e) { fail(e.message); return; }
  $("integrity").textContent = info.integrity;
  $("integrity").classList.add(info.integrity);
  $("duration").textContent = fmtDuration(info.duration_ns / 1e9);
  if (!info.rfb) {
    $("video-box").hidden = true;
    fail("this recording is not a VNC session: the player shows VNC sessions only");
    return;
  }
  buildEvents();
  drawActivity();
  setupTimeline();
  setupKeys();
  $("play").addEventListener("click", toggle);
  $("speed").addEventListener("change", () => setSpeed($("speed").value));
  window.addEventListener("hashchange", () => {
    const m = /t=([^&]+)/.exec(location.hash);
    if (m) seek(parseTime(m[1]));
  });
  const m = /t=([^&]+)/.exec(location.hash);
  const start = m ? parseTime(m[1]) : 0;
  st.time = start;
  let RFB;
  try {
    RFB = (await import("./novnc/core/rfb.js")).default;
  } catch (e) { fail("noVNC is not available: start wsreplay with --novnc-dir"); return; }
  const url = wsBase + "/?token=" + encodeURIComponent(name) + "&replay=" + replayID +
    "&mode=render&end=hold&start=" + start.toFixed(3);
  const rfb = new RFB($("screen"), url, { wsProtocols: ["binary"] });
  rfb.viewOnly = true;
  rfb.scaleViewport = true;
  rfb.focusOnClick = false;
  rfb.addEventListener("connect", () => {
    document.body.dataset.connected = "true";
    openControl();
    // Before the replay runs (its seek may wait for the seek index) its
    // state is not the page's: poll from now on.
    setInterval(poll, 500);
  });
  rfb.addEventListener("disconnect", (e) => {
    document.body.dataset.connected = "false";
    if (!e.detail.clean) fail("the replay's connection closed");
  });
  setInterval(tick, 100);
}

main();
