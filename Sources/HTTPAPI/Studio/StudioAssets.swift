/// The studio's page, script and style, compiled into the binary so that a coordinator serves them with
/// no files beside it and no network (the chart library alone comes from the distribution's package).
///
/// The script is plain JavaScript with no build step: edit it here.
enum StudioAssets {
    /// The one page; the script routes by the URL's fragment.
    static let indexHTML = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conduit Studio</title>
<link rel="stylesheet" href="/ui/app.css">
<script src="/ui/vendor/chart.js" defer></script>
<script src="/ui/app.js" defer></script>
</head>
<body>
<nav><span class="brand">Conduit Studio</span>
<a href="#/runs">Runs</a><a href="#/compare">Compare</a><a href="#/workers">Workers</a><a href="#/registry">Registry</a></nav>
<main id="main"><p>Loading…</p></main>
</body>
</html>
"""#

    /// The login page of a coordinator with a token, with `message` (a wrong token) when there is one.
    static func loginHTML(message: String?) -> String {
        let shown = message.map { "<p class=\"error\" id=\"login-error\">\(escape($0))</p>" } ?? ""
        return #"""
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Conduit Studio: log in</title><link rel="stylesheet" href="/ui/login.css"></head>
<body>
<form class="login" method="post" action="/ui/login">
<h1>Conduit Studio</h1>
<p>This coordinator requires its token (the content of its <code>--http-token-file</code>).</p>
"""# + shown + #"""
<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<button type="submit" id="login">Log in</button>
<p class="hint">The token is kept in a cookie that only this coordinator's pages receive, and scripts cannot read.</p>
</form>
</body>
</html>
"""#
    }

    /// `text` with HTML's special characters escaped.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// The style of every page.
    static let appCSS = #"""
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
nav { background: #1d2330; padding: 8px 16px; display: flex; gap: 16px; align-items: center; }
nav a { color: #c9d1e0; text-decoration: none; } nav a.active, nav a:hover { color: #fff; }
nav .brand { color: #fff; font-weight: 600; margin-right: 12px; }
main { padding: 12px 16px; }
h1 small { font-weight: normal; color: #667; font-size: 60%; }
table { border-collapse: collapse; background: #fff; } th, td { border-bottom: 1px solid #e3e6eb; padding: 4px 8px; text-align: left; vertical-align: top; }
td.num { text-align: right; } .filters { margin-bottom: 8px; display: flex; gap: 8px; }
.badge { padding: 1px 6px; border-radius: 8px; font-size: 12px; background: #e8ebf0; }
.notice { background: #fff4d6; border: 1px solid #e8cf82; padding: 6px 10px; }
.hint { color: #667; }
.run-body { display: flex; gap: 12px; align-items: flex-start; }
.graph { flex: 1; overflow: auto; max-height: calc(100vh - 190px); background: #fff; border: 1px solid #e3e6eb; }
.panel { width: 460px; max-height: calc(100vh - 190px); overflow: auto; background: #fff; border: 1px solid #e3e6eb; padding: 8px 12px; }
.log { background: #11151c; color: #d8dee9; padding: 8px; max-height: 260px; overflow: auto; white-space: pre-wrap; font-size: 12px; }
.node { cursor: pointer; } .node rect { fill: #eef0f4; stroke: #8a93a6; stroke-width: 1.2; }
.node text.label { font-size: 12px; font-weight: 600; } .node text.sub { font-size: 10px; fill: #556; } .node text.icon { font-size: 15px; }
.node.group rect { stroke-dasharray: 4 2; stroke-width: 1.6; }
.node.selected rect { stroke: #1d2330; stroke-width: 3; }
.node.reused rect { fill-opacity: 0.55; stroke-dasharray: 2 2; }
.st-waiting rect { fill: #f1f2f5; } .st-queued rect { fill: #e4ecfb; } .st-running rect { fill: #cfe0ff; stroke: #2f6fdf; }
.st-completed rect { fill: #d8f2dc; stroke: #2e8b45; } .st-failed rect, .st-timed_out rect { fill: #fbd9d6; stroke: #c0392b; }
.st-canceled rect, .st-skipped rect { fill: #e6e6e6; stroke: #888; }
.st-running text.icon { fill: #2f6fdf; } .st-completed text.icon { fill: #2e8b45; } .st-failed text.icon, .st-timed_out text.icon { fill: #c0392b; }
.badge.st-completed { background: #d8f2dc; } .badge.st-failed, .badge.st-timed_out { background: #fbd9d6; } .badge.st-running { background: #cfe0ff; }
.edge { fill: none; stroke: #9aa3b5; stroke-width: 1.2; } .arrow { fill: #9aa3b5; }
.group-frame rect { fill: #f7f8fb; stroke: #b8c0d0; stroke-dasharray: 6 3; } .group-label { font-size: 11px; fill: #445; cursor: pointer; }
.chart { max-width: 430px; }
.login { max-width: 420px; margin: 80px auto; background: #fff; border: 1px solid #e3e6eb; padding: 20px 24px; }
.login input { width: 100%; box-sizing: border-box; padding: 6px; margin: 8px 0; } .error { color: #c0392b; }
"""#

    /// The script: pages for runs, a run's DAG (live), a step, comparing runs, workers and the registry.
    static let appJS = #"""
// Conduit Studio: one page, routed by the URL's fragment (#/runs, #/run/ID, #/compare, #/workers, #/registry).
// Everything comes from the coordinator's HTTP API (/v1/...), the same the CLI uses.
"use strict";

const ICONS = { waiting: "\u25CB", queued: "\u25D4", running: "\u25B6", completed: "\u2714", failed: "\u2716",
  timed_out: "\u231B", canceled: "\u25A0", skipped: "\u21B7" };
let generation = 0; // bumped on every page change, so that loops of an old page stop

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "onclick" || key === "oninput" || key === "onchange" || key === "onsubmit") node[key] = value;
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)conduit_csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(path, options) {
  const init = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (init.method && init.method !== "GET") {
    init.headers["X-Conduit-CSRF"] = csrfToken();
    if (init.body !== undefined) init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (response.status === 401) { location.href = "/ui/login"; throw new Error("not logged in"); }
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error || message; } catch (e) {}
    throw new Error(message);
  }
  return response;
}
const getJSON = async (path) => (await api(path)).json();

function seconds(value) {
  if (value === undefined || value === null) return "";
  if (value < 60) return value.toFixed(1) + " s";
  if (value < 3600) return Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  return Math.floor(value / 3600) + " h " + Math.round((value % 3600) / 60) + " min";
}
const time = (ms) => (ms ? new Date(ms).toLocaleString() : "");
function runDuration(run) { return seconds(((run.finishedAt || Date.now()) - run.createdAt) / 1000); }
function counts(run) {
  let ran = 0, reused = 0;
  for (const step of run.steps) { if (step.reused) reused++; else if (step.status === "completed") ran++; }
  return { ran, reused };
}
function statusBadge(status) { return el("span", { class: "badge st-" + status }, (ICONS[status] || "") + " " + status); }
function notice(text) { return el("p", { class: "notice" }, text); }
// Marks the page as drawn (tests and `make bench-studio` wait for it; the time is since navigation).
function ready(name) { window.conduitReadyAt = performance.now(); document.body.setAttribute("data-ready", name); }

// ---- Runs ----
async function runsPage(main) {
  const runs = await getJSON("/v1/runs?limit=500");
  const pipelines = [...new Set(runs.map((run) => run.pipeline))].sort();
  const status = el("select", { id: "filter-status" }, el("option", { value: "" }, "any status"),
    ["queued", "running", "completed", "failed", "canceled"].map((s) => el("option", { value: s }, s)));
  const pipeline = el("select", { id: "filter-pipeline" }, el("option", { value: "" }, "any pipeline"),
    pipelines.map((p) => el("option", { value: p }, p)));
  const search = el("input", { id: "search", type: "search", placeholder: "search run or pipeline" });
  const body = el("tbody");
  const draw = () => {
    const term = search.value.toLowerCase();
    body.replaceChildren(...runs.filter((run) =>
      (!status.value || run.status === status.value) && (!pipeline.value || run.pipeline === pipeline.value)
      && (!term || run.run.toLowerCase().includes(term) || run.pipeline.toLowerCase().includes(term))
    ).map((run) => {
      const c = counts(run);
      return el("tr", { "data-run": run.run },
        el("td", {}, el("a", { href: "#/run/" + encodeURIComponent(run.run) }, run.run)),
        el("td", {}, statusBadge(run.status)), el("td", {}, run.pipeline), el("td", {}, time(run.createdAt)),
        el("td", {}, runDuration(run)), el("td", { class: "num" }, c.ran), el("td", { class: "num" }, c.reused));
    }));
  };
  status.onchange = draw; pipeline.onchange = draw; search.oninput = draw;
  draw();
  main.replaceChildren(el("h1", {}, "Runs"), el("div", { class: "filters" }, status, pipeline, search),
    el("table", { id: "runs" }, el("thead", {}, el("tr", {}, ["run", "status", "pipeline", "started", "duration", "ran", "reused"].map((h) => el("th", {}, h)))), body));
}

// ---- Run: the DAG, live ----
const NODE_W = 158, NODE_H = 36;

function aggregate(statuses) {
  const order = ["failed", "timed_out", "running", "queued", "canceled", "skipped", "waiting", "completed"];
  for (const status of order) if (statuses.has(status)) {
    if (status === "completed" || statuses.size === 1) return status;
    if (status === "waiting" && statuses.has("completed")) return "running";
    return status;
  }
  return "waiting";
}

async function runPage(main, runID) {
  const mine = generation;
  const state = { expanded: null, graph: null, report: null, byName: new Map(), selected: null };
  const header = el("div", { class: "run-header" });
  const canvas = el("div", { id: "graph", class: "graph" });
  const panel = el("aside", { id: "panel", class: "panel" }, el("p", { class: "hint" }, "Select a step to see its log, explanation, inputs, outputs, attempts and metrics."));
  const note = el("div", { id: "graph-note" });
  main.replaceChildren(header, note, el("div", { class: "run-body" }, canvas, panel));

  const drawHeader = () => {
    const report = state.report, c = counts(report);
    const cancel = el("button", { id: "cancel", onclick: async () => {
      if (!confirm("Cancel run " + runID + "?")) return;
      try { await api("/v1/runs/" + encodeURIComponent(runID) + "/cancel", { method: "POST" }); } catch (e) { alert(e.message); }
    } }, "Cancel run");
    if (report.status !== "queued" && report.status !== "running") cancel.disabled = true;
    header.replaceChildren(el("h1", {}, report.pipeline + " ", el("small", {}, runID)),
      el("p", {}, statusBadge(report.status), " started " + time(report.createdAt) + ", " + runDuration(report)
        + ", " + report.steps.length + " steps: " + c.ran + " ran, " + c.reused + " reused ",
        el("span", { id: "run-status", "data-status": report.status }, ""), report.reason ? " \u2014 " + report.reason : ""),
      el("p", {}, cancel, " ", el("a", { href: "#/compare?a=" + encodeURIComponent(runID) }, "compare with another run")));
  };

  const loadGraph = async () => {
    const query = state.expanded === null ? "" : "?expand=" + encodeURIComponent([...state.expanded].join(","));
    state.graph = await getJSON("/v1/runs/" + encodeURIComponent(runID) + "/graph" + query);
    if (state.expanded === null) {
      // The coordinator chose what to open (everything for a small graph): remember it.
      state.expanded = new Set(state.graph.view.nodes.filter((n) => !n.endsWith("/") && n.includes("/")).map((n) => n.slice(0, n.indexOf("/") + 1)));
    }
    drawGraph();
  };

  let members = []; // the step names behind each drawn node
  const nodeStatus = (index) => {
    const statuses = new Set();
    let reused = 0;
    for (const name of members[index]) {
      const step = state.byName.get(name);
      if (step) { statuses.add(step.status); if (step.reused) reused++; }
    }
    return { status: aggregate(statuses), reused: reused > 0 && reused === members[index].length };
  };

  let nodeElements = [];
  const drawGraph = () => {
    const graph = state.graph, view = graph.view;
    members = view.nodes.map(() => []);
    view.stepNodes.forEach((node, step) => members[node].push(graph.steps[step]));
    note.replaceChildren();
    if (!view.layout) {
      note.append(notice("The graph could not be laid out: " + (view.note || "no layout") + ". The steps are listed below."));
      const list = el("ul", { id: "step-list" }, graph.steps.map((name) => el("li", { "data-step": name, class: "node" }, name)));
      canvas.replaceChildren(list);
      nodeElements = [];
      return;
    }
    const layout = view.layout, pad = 20;
    const root = svg("svg", { id: "dag", width: layout.width + 2 * pad, height: layout.height + 2 * pad,
      viewBox: (-pad) + " " + (-pad) + " " + (layout.width + 2 * pad) + " " + (layout.height + 2 * pad) });
    // Group frames: the bounding box of an expanded group's steps, with a handle that collapses it.
    const frames = new Map();
    view.nodes.forEach((key, index) => {
      const slash = key.indexOf("/");
      if (key.endsWith("/") || slash < 0) return;
      const group = key.slice(0, slash + 1), [x, y] = layout.positions[index];
      const box = frames.get(group) || { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
      box.x0 = Math.min(box.x0, x - NODE_W / 2 - 8); box.y0 = Math.min(box.y0, y - NODE_H / 2 - 22);
      box.x1 = Math.max(box.x1, x + NODE_W / 2 + 8); box.y1 = Math.max(box.y1, y + NODE_H / 2 + 8);
      frames.set(group, box);
    });
    for (const [group, box] of frames) {
      const frame = svg("g", { class: "group-frame", "data-group": group });
      frame.append(svg("rect", { x: box.x0, y: box.y0, width: box.x1 - box.x0, height: box.y1 - box.y0, rx: 6 }));
      const label = svg("text", { x: box.x0 + 6, y: box.y0 + 14, class: "group-label" });
      label.textContent = "\u25BE " + group + " (collapse)";
      label.addEventListener("click", () => { state.expanded.delete(group); loadGraph(); });
      frame.append(label);
      root.append(frame);
    }
    const edges = svg("g", { class: "edges" });
    for (const [from, to] of view.edges) {
      const [x1, y1] = layout.positions[from], [x2, y2] = layout.positions[to];
      const sy = y1 + NODE_H / 2, ty = y2 - NODE_H / 2, my = (sy + ty) / 2;
      edges.append(svg("path", { class: "edge", "data-from": view.nodes[from], "data-to": view.nodes[to],
        d: "M" + x1 + "," + sy + " C" + x1 + "," + my + " " + x2 + "," + my + " " + x2 + "," + ty, "marker-end": "url(#arrow)" }));
    }
    const defs = svg("defs", {});
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }));
    defs.append(marker);
    root.append(defs, edges);
    nodeElements = view.nodes.map((key, index) => {
      const [x, y] = layout.positions[index], isGroup = key.endsWith("/");
      const node = svg("g", { class: "node" + (isGroup ? " group" : ""), transform: "translate(" + (x - NODE_W / 2) + "," + (y - NODE_H / 2) + ")" });
      if (isGroup) node.setAttribute("data-group", key); else node.setAttribute("data-step", key);
      node.append(svg("rect", { width: NODE_W, height: NODE_H, rx: 5 }));
      const icon = svg("text", { x: 8, y: 23, class: "icon" });
      const label = svg("text", { x: 26, y: 15, class: "label" });
      label.textContent = (isGroup ? "\u25B8 " : "") + (key.length > 24 ? "\u2026" + key.slice(-23) : key);
      const sub = svg("text", { x: 26, y: 29, class: "sub" });
      const title = svg("title", {});
      title.textContent = key;
      node.append(icon, label, sub, title);
      node.addEventListener("click", () => {
        if (isGroup) { state.expanded.add(key); loadGraph(); } else selectStep(key);
      });
      root.append(node);
      return { node, icon, sub, key, index, isGroup, size: view.sizes[index] };
    });
    canvas.replaceChildren(root);
    paintStates();
  };

  const paintStates = () => {
    for (const item of nodeElements) {
      const { status, reused } = nodeStatus(item.index);
      const cls = "node st-" + status + (item.isGroup ? " group" : "") + (reused ? " reused" : "");
      if (item.node.getAttribute("class") !== cls) item.node.setAttribute("class", cls);
      if (item.node.getAttribute("data-status") !== status) item.node.setAttribute("data-status", status);
      item.icon.textContent = ICONS[status] || "";
      let sub = status + (reused ? " \u00B7 reused" : "");
      if (item.isGroup) sub = item.size + " steps \u00B7 " + sub;
      else { const step = state.byName.get(item.key); if (step && step.seconds) sub += " \u00B7 " + seconds(step.seconds); }
      if (item.sub.textContent !== sub) item.sub.textContent = sub;
    }
    document.querySelectorAll("#step-list li").forEach((li) => {
      const step = state.byName.get(li.getAttribute("data-step"));
      if (step) li.setAttribute("data-status", step.status);
    });
  };

  const applyReport = (report) => {
    state.report = report;
    for (const step of report.steps) state.byName.set(step.name, step);
    drawHeader();
    if (state.graph) paintStates();
    if (state.selected) state.selected.refresh(report);
  };

  const selectStep = (name) => {
    if (state.selected) state.selected.close();
    state.selected = stepPanel(panel, runID, name, () => state.report);
    document.querySelectorAll(".node.selected").forEach((n) => n.classList.remove("selected"));
    const node = document.querySelector('.node[data-step="' + CSS.escape(name) + '"]');
    if (node) node.classList.add("selected");
  };

  const first = await getJSON("/v1/runs/" + encodeURIComponent(runID) + "?after=0&wait=0");
  state.report = first;
  for (const step of first.steps) state.byName.set(step.name, step);
  drawHeader();
  await loadGraph();
  ready("run");
  // Live: long-poll the run for the next version until it ends or the page changes.
  let version = first.version;
  while (mine === generation) {
    if (["completed", "failed", "canceled"].includes(state.report.status)) break;
    try {
      const report = await getJSON("/v1/runs/" + encodeURIComponent(runID) + "?after=" + version + "&wait=25");
      if (mine !== generation) break;
      version = report.version;
      applyReport(report);
    } catch (error) {
      note.replaceChildren(notice("Live updates paused: " + error.message));
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

// ---- Step panel ----
function stepPanel(panel, runID, name, currentReport) {
  let open = true, offset = 0, logTimer = null;
  const run = encodeURIComponent(runID), step = encodeURIComponent(name);
  const log = el("pre", { id: "log", class: "log" });
  const explain = el("p", { id: "explain" }, "\u2026");
  const files = el("div", { id: "files" });
  const attempts = el("div", { id: "attempts" });
  const metrics = el("div", { id: "metrics" });
  const rerun = el("button", { id: "rerun", onclick: async () => {
    if (!confirm("Start a new run that re-runs " + name + " and everything downstream of it?")) return;
    try {
      const answer = await (await api("/v1/runs/" + run + "/rerun", { method: "POST", body: JSON.stringify({ from: name, dryRun: false }) })).json();
      if (answer.run) location.hash = "#/run/" + encodeURIComponent(answer.run);
    } catch (e) { alert(e.message); }
  } }, "Re-run from this step");
  panel.replaceChildren(el("h2", { "data-step": name }, name), rerun,
    el("h3", {}, "Log"), log, el("h3", {}, "Why it ran or was reused"), explain,
    el("h3", {}, "Inputs and outputs"), files, el("h3", {}, "Attempts"), attempts, el("h3", {}, "Metrics"), metrics);

  const tail = async () => {
    if (!open) return;
    try {
      const response = await api("/v1/runs/" + run + "/logs?step=" + step + "&offset=" + offset);
      const text = await response.text();
      offset += new TextEncoder().encode(text).length;
      if (text) {
        log.textContent = (log.textContent + text).slice(-65536);
        log.scrollTop = log.scrollHeight;
      }
      if (response.headers.get("X-Conduit-Step-Finished") !== "true") logTimer = setTimeout(tail, 1000);
      else log.setAttribute("data-finished", "true");
    } catch (e) {
      log.setAttribute("data-error", e.message);
      logTimer = setTimeout(tail, 2000);
    }
  };
  tail();

  getJSON("/v1/runs/" + run + "/explain?step=" + step).then((answer) => {
    explain.replaceChildren(el("strong", { "data-decision": answer.decision }, answer.summary),
      answer.comparedRun ? el("span", {}, " (compared with ", el("a", { href: "#/run/" + encodeURIComponent(answer.comparedRun) }, answer.comparedRun), ")") : "",
      answer.differences.length ? el("ul", {}, answer.differences.map((d) => el("li", {}, d))) : "");
  }).catch((e) => explain.replaceChildren(e.message));

  const blobLink = (digest, label) => digest ? el("a", { href: "/v1/blobs/" + digest, download: label }, digest.slice(0, 12)) : "";
  const loadFiles = () => getJSON("/v1/runs/" + run + "/detail?step=" + step).then((detail) => {
    files.replaceChildren(el("table", {}, el("tr", {}, el("th", {}, ""), el("th", {}, "name"), el("th", {}, "type / uri"), el("th", {}, "artifact")),
      detail.inputs.map((input) => el("tr", {}, el("td", {}, "in"), el("td", {}, input.name), el("td", {}, input.type + (input.uri ? " " + input.uri : "")), el("td", {}, blobLink(input.artifact, input.name)))),
      Object.entries(detail.outputs).map(([output, digest]) => el("tr", {}, el("td", {}, "out"), el("td", {}, output), el("td", {}, ""), el("td", {}, blobLink(digest, output))))),
      el("p", { class: "hint" }, "Links download an artifact's manifest; `conduit download " + runID + " " + name + ".OUTPUT DIR` fetches its files."));
  }).catch((e) => files.replaceChildren(e.message));
  loadFiles();

  const loadAttempts = () => getJSON("/v1/runs/" + run).then((report) => {
    const detail = report.steps.find((s) => s.name === name);
    const history = (detail && detail.attemptHistory) || [];
    const point = detail && detail.point ? Object.keys(detail.point).sort().map((k) => k + " " + detail.point[k]).join(", ") : "";
    attempts.replaceChildren(point ? el("p", { "data-point": "true" }, "Trial point: " + point) : "",
      detail && detail.reused ? el("p", {}, "Reused from run ", el("a", { href: "#/run/" + encodeURIComponent(detail.sourceRun || "") }, detail.sourceRun || "")) : "",
      history.length ? el("table", {}, el("tr", {}, ["#", "worker", "outcome", "duration", "exit", "message"].map((h) => el("th", {}, h))),
        history.map((a) => el("tr", {}, el("td", {}, a.number), el("td", {}, a.worker), el("td", {}, statusBadge(a.status)), el("td", {}, seconds(a.seconds)),
          el("td", {}, a.exitCode ?? (a.signal ? "signal " + a.signal : "")), el("td", {}, a.message || ""))))
        : el("p", {}, "No attempts in this run."));
  }).catch((e) => attempts.replaceChildren(e.message));
  loadAttempts();

  const charts = [];
  const loadMetrics = () => getJSON("/v1/runs/" + run + "/metrics?step=" + step).then((history) => {
    const byKey = new Map();
    for (const point of history.points) {
      if (!byKey.has(point.key)) byKey.set(point.key, []);
      byKey.get(point.key).push(point);
    }
    charts.forEach((chart) => chart.destroy()); charts.length = 0;
    if (byKey.size === 0) { metrics.replaceChildren(el("p", {}, "No metrics recorded.")); return; }
    const children = [];
    if (!window.Chart) children.push(notice("Charts need Chart.js on the coordinator: apt-get install libjs-chart.js. The values are listed instead."));
    for (const [key, points] of byKey) {
      points.sort((a, b) => a.stepIndex - b.stepIndex || a.timestamp - b.timestamp);
      if (window.Chart) {
        const canvas = el("canvas", { "data-metric": key, height: 160 });
        children.push(el("div", { class: "chart" }, canvas));
        charts.push(new window.Chart(canvas, { type: "line", options: { animation: false, plugins: { title: { display: true, text: key } } },
          data: { labels: points.map((p) => p.stepIndex), datasets: [{ label: key, data: points.map((p) => p.value), borderColor: "#2f6fdf", pointRadius: 1 }] } }));
      } else {
        children.push(el("p", { "data-metric": key }, key + ": " + points.map((p) => p.value).join(", ")));
      }
    }
    metrics.replaceChildren(...children);
  }).catch((e) => metrics.replaceChildren(e.message));
  loadMetrics();

  let lastStatus = null;
  return {
    refresh(report) {
      const now = report.steps.find((s) => s.name === name);
      if (now && now.status !== lastStatus) {
        if (lastStatus !== null) { loadFiles(); loadAttempts(); loadMetrics(); }
        lastStatus = now.status;
        if (!logTimer && log.getAttribute("data-finished") !== "true") tail();
      }
    },
    close() { open = false; clearTimeout(logTimer); charts.forEach((chart) => chart.destroy()); },
  };
}

// ---- Compare ----
async function comparePage(main, params) {
  const a = el("input", { id: "run-a", value: params.get("a") || "", placeholder: "run A" });
  const b = el("input", { id: "run-b", value: params.get("b") || "", placeholder: "run B" });
  const result = el("div", { id: "diff" });
  const form = el("form", { onsubmit: (event) => { event.preventDefault(); location.hash = "#/compare?a=" + encodeURIComponent(a.value) + "&b=" + encodeURIComponent(b.value); } },
    a, " ", b, " ", el("button", { type: "submit" }, "Compare"));
  main.replaceChildren(el("h1", {}, "Compare runs"), form, result);
  if (!a.value || !b.value) return;
  const diff = await getJSON("/v1/runs/" + encodeURIComponent(a.value) + "/diff/" + encodeURIComponent(b.value));
  const side = (s) => [statusBadge(s.status), s.reused ? " reused" + (s.sourceRun ? " from " + s.sourceRun : "") : " ran"];
  result.replaceChildren(
    diff.added.length ? el("p", {}, "Only in B: " + diff.added.join(", ")) : "",
    diff.removed.length ? el("p", {}, "Only in A: " + diff.removed.join(", ")) : "",
    el("table", {}, el("tr", {}, ["step", "A (" + diff.a + ")", "B (" + diff.b + ")", "what differs", "outputs", "metrics (B \u2212 A)"].map((h) => el("th", {}, h))),
      diff.steps.map((s) => el("tr", { "data-step": s.step }, el("td", {}, s.step), el("td", {}, side(s.a)), el("td", {}, side(s.b)),
        el("td", {}, s.differences.length ? el("ul", {}, s.differences.map((d) => el("li", {}, d))) : "nothing"),
        el("td", {}, s.sameOutputs === true ? "same" : s.sameOutputs === false ? "differ" : ""),
        el("td", {}, s.metrics.map((m) => el("div", {}, m.name + ": " + (m.a ?? "\u2013") + " \u2192 " + (m.b ?? "\u2013") + (m.delta !== undefined && m.delta !== null ? " (" + (m.delta >= 0 ? "+" : "") + m.delta.toPrecision(4) + ")" : "")))))))
  );
}

// ---- Workers ----
async function workersPage(main) {
  const workers = await getJSON("/v1/workers");
  const gib = (bytes) => (bytes / (1 << 30)).toFixed(1) + " GiB";
  main.replaceChildren(el("h1", {}, "Workers"), el("table", { id: "workers" },
    el("tr", {}, ["worker", "state", "capabilities", "labels", "free", "GPUs", "running attempts", ""].map((h) => el("th", {}, h))),
    workers.map((w) => {
      const c = w.capabilities, u = w.usage;
      const drain = el("button", { onclick: async () => {
        if (!confirm("Drain " + w.name + "? It finishes its attempts and takes no new ones.")) return;
        try { await api("/v1/workers/" + encodeURIComponent(w.name) + "/drain", { method: "POST" }); route(); } catch (e) { alert(e.message); }
      } }, "Drain");
      if (!w.connected || (u && u.draining)) drain.disabled = true;
      const leases = u ? u.leasedGPUs : {};
      return el("tr", { "data-worker": w.name }, el("td", {}, w.name, el("br"), el("small", {}, c.hostname)),
        el("td", {}, w.connected ? (u && u.draining ? "draining" : "connected") : "gone, last seen " + time(w.lastSeen)),
        el("td", {}, c.cores + " cores, " + gib(c.memoryBytes) + ", " + c.slots + " slots"),
        el("td", {}, (c.labels || []).join(", ")),
        el("td", {}, u ? ((u.cpuCapacityMillicores - u.cpuMillicores) / 1000) + " cores, " + gib(c.memoryBytes - u.memoryBytes) + ", " + (u.slots - u.attempts) + " slots" : ""),
        el("td", {}, (c.gpus || []).map((g) => el("div", {}, "GPU " + g.index + " " + (g.name || "") + (leases[g.index] ? " \u2192 " + leases[g.index] : " free")))),
        el("td", {}, w.runningAttempts.join(", ")), el("td", {}, drain));
    })));
}

// ---- Registry ----
async function registryPage(main) {
  const assets = await getJSON("/v1/data");
  main.replaceChildren(el("h1", {}, "Data assets"), assets.length === 0 ? el("p", {}, "No run has registered an output with name: yet.") :
    el("table", { id: "assets" }, el("tr", {}, ["asset", "version", "type", "produced by", "created", "content"].map((h) => el("th", {}, h))),
      assets.slice().reverse().map((a) => el("tr", {}, el("td", {}, a.name), el("td", {}, a.version), el("td", {}, a.type),
        el("td", {}, el("a", { href: "#/run/" + encodeURIComponent(a.runID) }, a.runID), " " + a.step + "." + a.output),
        el("td", {}, time(a.createdAt)), el("td", {}, el("a", { href: "/v1/blobs/" + a.digest }, a.digest.slice(0, 12)))))));
}

async function route() {
  generation++;
  document.body.removeAttribute("data-ready");
  const main = document.getElementById("main");
  const [path, query] = (location.hash.slice(1) || "/runs").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.getAttribute("href").slice(2) === parts[0]));
  try {
    if (parts[0] === "run" && parts[1]) await runPage(main, parts[1]);
    else if (parts[0] === "compare") await comparePage(main, params);
    else if (parts[0] === "workers") await workersPage(main);
    else if (parts[0] === "registry") await registryPage(main);
    else await runsPage(main);
    if (!document.body.hasAttribute("data-ready")) ready(parts[0] || "runs");
  } catch (error) {
    main.replaceChildren(el("h1", {}, "Something went wrong"), notice(error.message));
    ready("error");
  }
}

window.addEventListener("hashchange", route);
route();
"""#
}
