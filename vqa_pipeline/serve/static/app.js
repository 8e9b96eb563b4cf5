// The vqa page: ask, list the cited moments, play them, and show each video's evidence timeline.
// Plain JavaScript, no build step and nothing fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const LANES = [
  ["asr", "speech"], ["ocr", "on-screen text"], ["audio", "sounds"], ["visual", "visual"],
];
const state = { videos: new Map(), labels: new Map(), current: null, duration: 0, pendingSeek: null };
const BUSY_RETRY_MAX_S = 10;

// -- the token (only when the server was started with --token) ---------------------------------
function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("vqa-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);  // keep it out of the address bar
  }
  return sessionStorage.getItem("vqa-token") || "";
}

function withToken(url) {
  const t = token();
  if (!t) return url;
  const [path, frag] = url.split("#");
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(t) + (frag ? "#" + frag : "");
}

async function api(path, options = {}, retried = false) {
  const headers = Object.assign({}, options.headers || {});
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  if (resp.status === 503) {
    // the server's question queue is full: wait as long as it asks, once, then say so
    if (!retried) {
      const wait = Math.min(BUSY_RETRY_MAX_S, Number(resp.headers.get("Retry-After")) || 2);
      await new Promise((r) => setTimeout(r, 1000 * wait));
      return api(path, options, true);
    }
    throw new Error("The server is busy with other questions; try again in a moment.");
  }
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (resp.status === 401) $("token-box").hidden = false;
  if (!resp.ok) throw new Error((body && body.error) || `HTTP ${resp.status}`);
  return body;
}

// -- small helpers ----------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function clock(s) {
  s = Math.max(0, Number(s) || 0);
  const m = Math.floor(s / 60);
  const sec = (s - 60 * m).toFixed(1).padStart(4, "0");
  return `${m}:${sec}`;
}

function span(start, end) { return `${clock(start)}–${clock(end)}`; }

function setStatus(text, isError = false) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "error" : "notice";
}

// Files of the same name in different folders: each shown with the fewest parent folders that tell
// it apart ("sample/train_station.mp4", "clips/train_station.mp4"); a unique name alone.
function shortNames(paths) {
  const uniq = [...new Set(paths.filter(Boolean))];
  const parts = new Map(uniq.map((p) => [p, p.split(/[\\/]+/).filter(Boolean)]));
  const tail = (p, n) => parts.get(p).slice(-n).join("/");
  const out = new Map();
  for (const p of uniq) {
    let n = 1;
    while (n < parts.get(p).length && uniq.some((o) => o !== p && tail(o, n) === tail(p, n))) n++;
    out.set(p, tail(p, n));
  }
  return out;
}

function relabel(extra = []) {
  const sources = [...state.videos.values()].map((v) => v.source).concat(extra);
  state.labels = shortNames(sources);
}

function label(source, fallback) { return state.labels.get(source) || fallback; }

// The answer's inline timecodes ("4 [20.0-26.0s]"): the citation chips below show them already.
const NUM = String.raw`\d+(?:\.\d+)?\s*s?`;
const INLINE_CODES = [
  new RegExp(String.raw`\s*\[\s*${NUM}(?:\s*[-–]\s*${NUM})?\s*\]`, "g"),
  new RegExp(String.raw`\s*\(\s*\d+(?:\.\d+)?\s*s?\s*[-–]\s*\d+(?:\.\d+)?\s*s\s*\)`, "g"),
];
function withoutTimecodes(text) {
  let out = text;
  for (const re of INLINE_CODES) out = out.replace(re, "");
  return out.replace(/\s+([.,;:!?])/g, "$1").trim() || text;
}

function laneOf(kind) { return LANES.some(([k]) => k === kind) ? kind : "visual"; }

// -- videos ---------------------------------------------------------------------------------
async function loadVideos() {
  try {
    const data = await api("/api/videos");
    state.videos = new Map(data.videos.filter((v) => v.video_id).map((v) => [v.video_id, v]));
    relabel(data.videos.map((v) => v.source));
    const list = $("videos");
    list.replaceChildren();
    for (const v of data.videos) {
      const cls = v.status === "failed" ? "failed" : v.exists ? "" : "missing";
      const text = `${label(v.source, v.name)}${v.duration ? " · " + clock(v.duration) : ""}`;
      const title = v.error ? `${v.status}: ${v.error}` : v.exists ? v.source : `${v.source} (file missing)`;
      list.append(el("li", {}, el("button", {
        class: `video-link ${cls}`, type: "button", title, "data-video": v.video_id || "",
        onclick: () => v.video_id && openAt(v.video_id, 0),
      }, text)));
    }
    if (!data.videos.length) list.append(el("li", { class: "notice" }, "No videos indexed yet."));
  } catch (e) {
    setStatus(e.message, true);
  }
}

// -- asking ---------------------------------------------------------------------------------
async function ask(question) {
  const button = $("ask-button");
  button.disabled = true;
  setStatus("Searching…");
  $("answer").hidden = true;
  const q = encodeURIComponent(question);
  const searching = api(`/api/search?q=${q}&k=8`).then(renderHits).catch((e) => setStatus(e.message, true));
  try {
    const answer = await api(`/api/ask?q=${q}`);
    renderAnswer(answer);
    setStatus("");
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    await searching;
    button.disabled = false;
  }
}

function renderAnswer(a) {
  $("answer").hidden = false;
  relabel(a.citations.map((c) => c.source));
  // the chips show each cited span: the text without its inline codes (the API's answer keeps them)
  $("answer-text").textContent = a.citations.length ? withoutTimecodes(a.answer) : a.answer;
  $("answer-text").className = a.abstained ? "notice" : "";
  const list = $("citations");
  list.replaceChildren();
  for (const c of a.citations) {
    list.append(el("li", {}, el("button", {
      class: "cite", type: "button", "data-video": c.video_id, "data-start": c.start,
      title: c.source, onclick: () => openAt(c.video_id, c.start),
    }, `▶ ${label(c.source, c.name)} ${span(c.start, c.end)}`)));
  }
  $("answer-notice").textContent = a.notice || "";
}

function renderHits(data) {
  $("hits-section").hidden = false;
  const list = $("hits");
  list.replaceChildren();
  if (!data.hits.length) list.append(el("li", { class: "notice" }, "No matching windows."));
  relabel(data.hits.map((h) => h.source));
  for (const [i, h] of data.hits.entries()) {
    const name = label(h.source, h.name);
    // no picture for this window (audio only, or indexed without thumbnails): the placeholder
    const placeholder = () => el("div", { class: "thumb placeholder", onclick: () => openAt(h.video_id, h.start) },
      "no preview");
    const thumb = h.thumbnail ? el("img", {
      class: "thumb", alt: `${name} at ${clock(h.start)}`, loading: "lazy", src: withToken(h.thumbnail),
      onclick: () => openAt(h.video_id, h.start),
    }) : placeholder();
    if (h.thumbnail) thumb.addEventListener("error", () => thumb.replaceWith(placeholder()));
    const lines = el("ul", { class: "lines" });
    for (const line of h.evidence.slice(0, 6)) lines.append(el("li", {}, line));
    list.append(el("li", { class: "hit", "data-window": h.window_id }, thumb, el("div", {},
      el("div", { class: "hit-head" },
        el("span", { class: "hit-name", title: h.source }, name),
        el("button", { class: "timecode", type: "button", onclick: () => openAt(h.video_id, h.start) },
          span(h.start, h.end)),
        // the rank: raw scores (fused, re-ranked) can be negative and mean nothing to a reader
        el("span", { class: "rank", title: "rank among the matching moments" }, `#${i + 1}`)),
      lines)));
  }
}

// -- the player -----------------------------------------------------------------------------
const player = $("player");

function showMessage(text, isError = false) {
  const m = $("player-message");
  m.textContent = text;
  m.className = isError ? "error" : "notice";
  m.hidden = !text;
}

async function openAt(videoId, seconds) {
  const video = state.videos.get(videoId);
  const name = video ? label(video.source, video.name) : videoId;
  $("player-title").textContent = name;
  if (video && (video.status === "failed" || !video.exists)) {
    player.hidden = true;
    player.removeAttribute("src");
    state.current = null;
    showMessage(video.status === "failed"
      ? `${name} could not be indexed: ${video.error || "unknown reason"}`
      : `${video.source} was deleted or moved after indexing, so it cannot be played.`, true);
    loadTimeline(videoId);
    return;
  }
  showMessage("");
  player.hidden = false;
  player.classList.toggle("audio-only", video ? video.has_video === false : false);
  if (state.current !== videoId) {
    state.current = videoId;
    state.pendingSeek = Number(seconds) || 0;
    player.src = withToken(`/api/media/${videoId}`);
    player.load();
    loadTimeline(videoId);
  } else {
    seek(seconds);
  }
}

function seek(seconds) {
  if (player.readyState >= 1) {
    player.currentTime = Math.max(0, Number(seconds) || 0);
    player.dataset.seekedTo = String(seconds);
  } else {
    state.pendingSeek = Number(seconds) || 0;
  }
}

player.addEventListener("loadedmetadata", () => {
  if (isFinite(player.duration) && player.duration > 0) state.duration = player.duration;
  if (state.pendingSeek !== null) {
    const t = state.pendingSeek;
    state.pendingSeek = null;
    seek(t);
  }
  drawPlayhead();
});

player.addEventListener("error", async () => {
  if (!state.current) return;
  // The element does not say why; ask the server (a JSON reason for a 404).
  try {
    const headers = { Range: "bytes=0-0" };
    const t = token();
    if (t) headers.Authorization = "Bearer " + t;
    const resp = await fetch(`/api/media/${state.current}`, { headers });
    if (!resp.ok) {
      const body = await resp.json().catch(() => null);
      showMessage((body && body.error) || `cannot play this file (HTTP ${resp.status})`, true);
      player.hidden = true;
      return;
    }
  } catch (e) { /* fall through */ }
  showMessage("This browser cannot play this file's format.", true);
});

player.addEventListener("timeupdate", drawPlayhead);

// -- the evidence timeline ----------------------------------------------------------------------
async function loadTimeline(videoId) {
  const lanes = $("lanes");
  const labels = document.querySelector("#timeline .lane-labels");
  const list = $("evidence-lines");
  lanes.replaceChildren();
  labels.replaceChildren();
  list.replaceChildren();
  let data;
  try {
    data = await api(`/api/evidence/${encodeURIComponent(videoId)}`);
  } catch (e) {
    $("timeline").hidden = true;
    return;
  }
  if (state.current !== videoId && state.current !== null) return;  // another video was opened meanwhile
  const end = Math.max(0, ...data.lines.map((l) => l.end));
  state.duration = data.duration || state.duration || end || 1;
  const playable = Boolean(data.media);
  for (const [kind, label] of LANES) {
    labels.append(el("div", {}, label));
    const lane = el("div", { class: `lane lane-${kind}`, "data-lane": kind });
    lane.addEventListener("click", (ev) => {
      if (ev.target !== lane || !playable) return;
      const r = lane.getBoundingClientRect();
      seek(((ev.clientX - r.left) / r.width) * state.duration);
    });
    lanes.append(lane);
  }
  for (const line of data.lines) {
    const lane = lanes.querySelector(`[data-lane="${laneOf(line.kind)}"]`);
    const left = (100 * line.start) / state.duration;
    const width = (100 * Math.max(line.end - line.start, 0)) / state.duration;
    lane.append(el("div", {
      class: "mark", title: `${span(line.start, line.end)} ${line.text}`, "data-start": line.start,
      style: `left:${left.toFixed(3)}%;width:${width.toFixed(3)}%`,
      onclick: () => playable && seek(line.start),
    }));
    list.append(el("li", { "data-start": line.start, "data-end": line.end, onclick: () => playable && seek(line.start) },
      el("span", { class: `kind kind-${laneOf(line.kind)}` }, line.kind), ` ${span(line.start, line.end)} ${line.text}`));
  }
  lanes.append(el("div", { class: "playhead", id: "playhead" }));
  $("timeline").hidden = false;
  $("timeline-hint").hidden = !playable;
  drawPlayhead();
}

function drawPlayhead() {
  const head = $("playhead");
  if (!head || !state.duration) return;
  head.style.left = `${Math.min(100, (100 * player.currentTime) / state.duration)}%`;
  for (const li of $("evidence-lines").children) {
    // current while the playhead is inside the line's span (a point-like line: its first second)
    const start = Number(li.dataset.start);
    const end = Math.max(Number(li.dataset.end) || start, start + 0.5);
    li.classList.toggle("current", start <= player.currentTime && player.currentTime <= end);
  }
}

// -- wiring -------------------------------------------------------------------------------------
$("ask-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = $("question").value.trim();
  if (q) ask(q);
});
$("token-save").addEventListener("click", () => {
  sessionStorage.setItem("vqa-token", $("token").value);
  $("token-box").hidden = true;
  loadVideos();
});
window.addEventListener("hashchange", () => {  // a #token=... pasted into the open page
  if (/token=/.test(location.hash) && token()) {
    $("token-box").hidden = true;
    loadVideos();
  }
});
token();
loadVideos();
