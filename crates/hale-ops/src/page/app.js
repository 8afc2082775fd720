// The live tree: draws /events' snapshot, then applies each healing event to
// the node it names, and re-reads /tree now and then for what events do not
// carry (intensity windows, heartbeat ages). No framework, no build step.
"use strict";

const LOG_LINES = 50;          // latest events shown
const LATENCY_SAMPLES = 4096;  // event-to-screen samples kept for benchmarks
const REFRESH_MS = 2000;       // at most one /tree re-read this often

// What tests and benchmarks read through the DevTools protocol.
window.hale = { snapshots: 0, applied: 0, latencies: [], lastEvent: null };

const nodes = new Map(); // path -> { data, li }
let selected = null;
let refreshTimer = null;
let lastRefresh = 0;

function exitText(reason) {
  if (!reason) return null;
  if (typeof reason === "string") return reason;
  switch (reason.kind) {
    case "normal": return "normal";
    case "shutdown": return reason.detail ? `shutdown: ${reason.detail}` : "shutdown";
    case "killed": return "killed";
    case "hung": return "hung";
    case "failed": return `failed: ${reason.detail}`;
    default: return `exit: ${reason.detail ?? reason.kind}`;
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function buildNode(data) {
  const li = el("li", "node");
  const row = el("div", "row");
  row.append(el("span", "dot"), el("span", "id", data.id), el("span", "state"),
             el("span", "restarts"), el("span", "window"), el("span", "error"));
  row.addEventListener("click", () => select(data.path));
  li.append(row);
  const entry = { data, li };
  nodes.set(data.path, entry);
  paint(entry);
  if (data.children && data.children.length) {
    const ul = el("ul");
    for (const child of data.children) ul.append(buildNode(child));
    li.append(ul);
  }
  return li;
}

// Writes a node's data into its row.
function paint(entry) {
  const { data, li } = entry;
  const row = li.firstChild;
  li.dataset.state = data.state;
  li.dataset.path = data.path;
  row.querySelector(".state").textContent = data.state;
  const restarts = row.querySelector(".restarts");
  restarts.textContent = `↻ ${data.restarts}`;
  restarts.dataset.count = String(data.restarts);
  const window_ = row.querySelector(".window");
  if (data.intensity) {
    window_.textContent = data.intensity.text;
    window_.dataset.hot = String(data.intensity.used >= data.intensity.intensity);
    window_.hidden = false;
  } else {
    window_.hidden = true;
  }
  const error = row.querySelector(".error");
  const abnormal = data.last_exit && data.last_exit_abnormal;
  error.textContent = abnormal ? data.last_exit : "";
  row.title = data.last_exit ? `last exit: ${data.last_exit}` : "no exit yet";
  if (selected === data.path) showDetails(data);
}

function drawSnapshot(tree) {
  window.hale.snapshots += 1;
  nodes.clear();
  const root = document.getElementById("tree");
  root.replaceChildren(buildNode(tree.root));
  document.getElementById("root-name").textContent = tree.root.id;
  drawCounts(tree);
  drawBreakers(tree.breakers);
  if (selected && nodes.has(selected)) showDetails(nodes.get(selected).data);
}

function drawCounts(tree) {
  const counts = document.getElementById("counts");
  counts.replaceChildren();
  for (const [state, count] of Object.entries(tree.counts)) {
    if (count > 0) counts.append(el("span", `count-${state}`, `${state} ${count}`));
  }
  if (tree.unready > 0) counts.append(el("span", "count-unready", `unready ${tree.unready}`));
}

function drawBreakers(breakers) {
  const list = document.getElementById("breakers");
  list.replaceChildren();
  if (!breakers.length) { list.append(el("li", "muted", "none has changed state")); return; }
  for (const breaker of breakers) {
    list.append(el("li", `breaker-${breaker.state}`, `${breaker.policy}: ${breaker.state}`));
  }
}

function select(path) {
  selected = path;
  for (const row of document.querySelectorAll(".row.selected")) row.classList.remove("selected");
  const entry = nodes.get(path);
  if (!entry) return;
  entry.li.firstChild.classList.add("selected");
  showDetails(entry.data);
}

function showDetails(data) {
  document.getElementById("details-empty").hidden = true;
  document.getElementById("details-body").hidden = false;
  document.getElementById("d-path").textContent = data.path;
  document.getElementById("d-state").textContent = `${data.state}${data.ready ? "" : " (not ready)"}`;
  document.getElementById("d-restarts").textContent = String(data.restarts);
  document.getElementById("d-window").textContent = data.intensity ? data.intensity.text : "—";
  document.getElementById("d-exit").textContent = data.last_exit ?? "—";
  document.getElementById("d-history").textContent = data.recent_restarts_ms.length
    ? data.recent_restarts_ms.map((ms) => new Date(ms).toLocaleTimeString()).join(", ")
    : "—";
  document.getElementById("d-heartbeat").textContent =
    data.heartbeat_age_ms == null ? "not watched" : `${data.heartbeat_age_ms} ms`;
}

// Applies one healing event to the node it names; true if it changed one.
function applyHealing(event) {
  const path = event.path.join("/");
  const entry = nodes.get(path);
  if (!entry) return false;
  const data = entry.data;
  const kind = event.kind;
  switch (kind.event) {
    // A new incarnation starts ready unless it says otherwise (the next
    // /tree read tells).
    case "child_started": data.state = "running"; data.ready = true; break;
    case "child_exited":
      data.state = kind.will_restart ? "restarting" : "stopped";
      data.last_exit = exitText(kind.reason);
      data.last_exit_abnormal = !["normal", "shutdown"].includes(kind.reason.kind);
      break;
    case "child_restarted":
      data.state = "running";
      data.ready = true;
      data.restarts = kind.restarts;
      data.recent_restarts_ms = [...data.recent_restarts_ms, event.timestamp_ms].slice(-16);
      break;
    case "restart_failed":
      data.state = "restarting";
      data.last_exit = `restart failed: ${kind.cause}`;
      data.last_exit_abnormal = true;
      break;
    case "backoff_scheduled": data.state = "restarting"; break;
    case "heartbeat_missed": case "hung_stop_requested": case "hung_killed": data.state = "hung"; break;
    case "child_stopped": data.state = kind.cause === "group_restart" ? "restarting" : "stopped"; break;
    case "probe_result":
      if (!kind.passed) data.state = "degraded";
      else if (data.state === "degraded") data.state = "running";
      break;
    case "child_removed": entry.li.remove(); nodes.delete(path); return true;
    case "intensity_exceeded": case "supervisor_stopped": case "auto_shutdown": data.state = "stopped"; break;
    default: return false;
  }
  paint(entry);
  entry.li.classList.remove("flash");
  void entry.li.offsetWidth; // restart the flash animation
  entry.li.classList.add("flash");
  return true;
}

function logLine(text) {
  const log = document.getElementById("log");
  log.prepend(el("li", null, text));
  while (log.childElementCount > LOG_LINES) log.lastElementChild.remove();
}

function recordLatency(timestampMs) {
  // Measured to the start of the frame that paints the change.
  requestAnimationFrame(() => {
    const samples = window.hale.latencies;
    samples.push(Date.now() - timestampMs);
    if (samples.length > LATENCY_SAMPLES) samples.splice(0, samples.length - LATENCY_SAMPLES);
  });
}

function scheduleRefresh() {
  if (refreshTimer) return;
  const wait = Math.max(0, lastRefresh + REFRESH_MS - Date.now());
  refreshTimer = setTimeout(async () => {
    refreshTimer = null;
    lastRefresh = Date.now();
    try {
      const response = await fetch("tree", { cache: "no-store" });
      if (response.ok) drawSnapshot(await response.json());
    } catch (_) { /* the stream's error handler reports the connection */ }
  }, wait);
}

function connect() {
  const connection = document.getElementById("connection");
  const source = new EventSource("events");
  source.addEventListener("open", () => { connection.dataset.state = "live"; connection.textContent = "live"; });
  source.addEventListener("error", () => { connection.dataset.state = "lost"; connection.textContent = "reconnecting…"; });
  source.addEventListener("snapshot", (message) => {
    const { missed, tree } = JSON.parse(message.data);
    drawSnapshot(tree);
    if (missed > 0) logLine(`missed ${missed} events: redrawn from a fresh snapshot`);
  });
  source.addEventListener("healing", (message) => {
    const event = JSON.parse(message.data);
    window.hale.lastEvent = event;
    if (applyHealing(event)) {
      window.hale.applied += 1;
      recordLatency(event.timestamp_ms);
    }
    logLine(`${new Date(event.timestamp_ms).toLocaleTimeString()} ${event.path.join("/")} ${event.kind.event}`);
    scheduleRefresh();
  });
  source.addEventListener("resilience", (message) => {
    const event = JSON.parse(message.data);
    if (event.event === "breaker_transition") scheduleRefresh();
    logLine(`${new Date(event.at_unix_ms).toLocaleTimeString()} ${event.policy} ${event.event}`);
  });
  source.addEventListener("audit", (message) => {
    const entry = JSON.parse(message.data);
    logLine(`${entry.actor}: ${entry.action} ${entry.target} → ${entry.outcome}`);
  });
}

connect();
