// snngraph view: draws the page data (the JSON in #data) as SVG and tables.
// No libraries and nothing fetched: the page works offline from a file.
"use strict";

const DATA = JSON.parse(document.getElementById("data").textContent);
const SVG_NS = "http://www.w3.org/2000/svg";
const state = { stage: DATA.stages.length - 1, collapsed: new Set(), query: "", selected: null };

// ------------------------------------------------------------------ helpers
function el(tag, attrs, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG_NS, tag.slice(4))
                                      : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.setAttribute("class", v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}
const $ = (id) => document.getElementById(id);
const pct = (x) => (100 * x).toFixed(x < 0.1 ? 1 : 0) + "%";
const num = (x) => (x === null || x === undefined) ? "-" : Number(x).toLocaleString("en");
const hz = (x) => (x === null || x === undefined) ? "-" : x.toFixed(1) + " Hz";
const shapeText = (s) => "[" + s.join(",") + "]";
const prefixOf = (name) => name.replace(/^%/, "").split(".")[0];
// the layer an op is folded into in the shown stage (data.py's ``layers``)
const groupOf = (name) => {
  const op = DATA.stages[state.stage].ops.find((o) => o.name === name);
  return op ? op.group : prefixOf(name);
};
const matches = (text) => state.query !== "" && text.toLowerCase().includes(state.query);

function heat(f) {  // 0 -> green, 0.75 -> amber, 1 -> red, over 1 -> dark red
  if (f > 1) return "#7f1d1d";
  const hue = 130 * (1 - Math.min(f, 1));
  return `hsl(${hue}, 65%, ${70 - 25 * f}%)`;
}

function bar(fraction, label) {
  const fill = el("span", { style: `width:${Math.min(fraction, 1) * 100}%;background:${heat(fraction)}` });
  return el("span", {}, el("span", { class: "bar", title: label || pct(fraction) }, fill), " ",
            el("span", { class: fraction > 1 ? "over" : "" }, label || pct(fraction)));
}

// ------------------------------------------------------------------ header
function drawHeader() {
  $("title").textContent = DATA.title;
  $("summary").textContent = DATA.summary;
}

// ------------------------------------------------------------------ passes
function drawStages() {
  const nav = $("stages");
  nav.replaceChildren(...DATA.stages.map((s, i) => {
    const ms = DATA.timings[s.name];
    return el("button", { type: "button", class: i === state.stage ? "current" : "",
                          "data-stage": s.name, title: ms === undefined ? "" : (ms * 1e3).toFixed(2) + " ms",
                          onclick: () => { state.stage = i; drawStages(); drawGraph(); } },
              `${i}. ${s.name}`);
  }));
  drawChanges(DATA.stages[state.stage]);
}

function drawChanges(stage) {
  const added = stage.ops.filter((o) => o.status === "added");
  const changed = stage.ops.filter((o) => o.status === "changed");
  const items = [];
  const opLink = (name) => el("a", { href: "#", class: "mono", onclick: (e) => { e.preventDefault(); select(name); } }, name);
  for (const o of added) items.push(el("li", {}, "added ", opLink(o.name), ` ${o.op} ${o.kind}${shapeText(o.shape)}`));
  for (const o of changed) items.push(el("li", {}, "changed ", opLink(o.name), el("br"),
    el("span", { class: "mono hint" }, "before: " + o.before)));
  for (const n of stage.removed) items.push(el("li", {}, "removed ", el("span", { class: "mono" }, n)));
  for (const line of stage.log) items.push(el("li", { class: "hint" }, line));
  const head = stage.name === "lower" ? "lower: the network as ops, before any pass"
    : `${stage.name}: ${added.length} added, ${changed.length} changed, ${stage.removed.length} removed`;
  $("changes").replaceChildren(el("strong", { id: "change-head" }, head),
                               items.length ? el("ul", {}, items) : el("div", { class: "hint" }, "no change"));
}

// ------------------------------------------------------------------ graph
// A layered layout: an op sits one row below its deepest input that runs before it
// (inputs that run later close a loop through a delay and are drawn dashed); within a
// row, ops are ordered by the mean column of their inputs.
function units(stage) {
  const members = {};
  for (const op of stage.ops) (members[op.group] = members[op.group] || []).push(op);
  const unitOf = {};
  const list = [];
  const byId = {};
  for (const op of stage.ops) {
    const group = members[op.group];
    const collapse = state.collapsed.has(op.group) && group.length > 1 && !group.some((o) => matches(o.name));
    const id = collapse ? "group:" + op.group : op.name;
    unitOf[op.name] = id;
    if (!byId[id]) {
      byId[id] = { id, group: op.group, ops: collapse ? group : [op], collapsed: collapse };
      list.push(byId[id]);
    }
  }
  return { list, unitOf };
}

function layout(stage) {
  const { list, unitOf } = units(stage);
  const index = Object.fromEntries(list.map((u, i) => [u.id, i]));
  const preds = list.map(() => new Set());
  const edges = [];
  const seen = new Set();
  for (const [a, b] of stage.edges) {
    const ua = unitOf[a], ub = unitOf[b];
    if (ua === undefined || ub === undefined || ua === ub) continue;
    const back = index[ua] >= index[ub];
    const key = ua + "\u0000" + ub;
    if (!seen.has(key)) { seen.add(key); edges.push({ from: ua, to: ub, back }); }
    if (!back) preds[index[ub]].add(index[ua]);
  }
  const depth = list.map(() => 0);
  list.forEach((u, i) => { for (const p of preds[i]) depth[i] = Math.max(depth[i], depth[p] + 1); });
  const rows = [];
  list.forEach((u, i) => { (rows[depth[i]] = rows[depth[i]] || []).push(i); });
  const col = list.map(() => 0);
  for (const row of rows) {
    const key = (i) => preds[i].size ? [...preds[i]].reduce((s, p) => s + col[p], 0) / preds[i].size : 0;
    row.sort((a, b) => key(a) - key(b));
    row.forEach((i, k) => { col[i] = k; });
  }
  const W = 210, H = 58, PAD = 16;
  const pos = {};
  list.forEach((u, i) => { pos[u.id] = { x: PAD + col[i] * W, y: PAD + depth[i] * H, unit: u }; });
  const width = PAD * 2 + Math.max(...rows.map((r) => r.length)) * W;
  const height = PAD * 2 + rows.length * H;
  return { pos, edges, width, height };
}

function drawGraph() {
  const stage = DATA.stages[state.stage];
  const { pos, edges, width, height } = layout(stage);
  const svg = $("graph");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  const defs = el("svg:defs", {}, el("svg:marker", { id: "arrow", viewBox: "0 0 8 8", refX: 8, refY: 4,
    markerWidth: 7, markerHeight: 7, orient: "auto" }, el("svg:path", { d: "M0,0 L8,4 L0,8 z", fill: "#9aa3b2" })));
  const BW = 190, BH = 36;
  const lines = edges.map((e) => {
    const a = pos[e.from], b = pos[e.to];
    const x1 = a.x + BW / 2, y1 = a.y + BH, x2 = b.x + BW / 2, y2 = b.y;
    const d = e.back ? `M${a.x + BW},${a.y + BH / 2} C${a.x + BW + 40},${a.y} ${b.x + BW + 40},${b.y + BH} ${b.x + BW},${b.y + BH / 2}`
                     : `M${x1},${y1} C${x1},${y1 + 14} ${x2},${y2 - 14} ${x2},${y2}`;
    return el("svg:path", { class: "edge" + (e.back ? " back" : ""), d });
  });
  const nodes = Object.entries(pos).map(([id, p]) => drawNode(id, p, BW, BH));
  svg.replaceChildren(defs, ...lines, ...nodes);
  drawOpsTable();
}

function drawNode(id, p, BW, BH) {
  const u = p.unit;
  const op = u.ops[0];
  const anyHit = state.query !== "";
  const hit = u.collapsed ? u.ops.some((o) => matches(o.name)) || matches(u.group) : matches(op.name);
  let cls = "node";
  let title, sub;
  if (u.collapsed) {
    cls += " group";
    const changedHere = u.ops.find((o) => o.status !== "same");
    if (changedHere) cls += " " + changedHere.status;
    if (u.ops.some((o) => o.chip)) cls += " chip";
    title = `${u.group} (${u.ops.length} ops)`;
    sub = u.ops.map((o) => o.op).join(" > ");
  } else {
    cls += " " + op.status + (op.chip ? " chip" : "");
    if (state.selected === op.name) cls += " selected";
    title = op.name;
    sub = `${op.kind}${shapeText(op.shape)} ${op.op}`;
  }
  if (anyHit) cls += hit ? " hit" : " dim";
  const onclick = u.collapsed ? () => { state.collapsed.delete(u.group); drawGraph(); } : () => select(op.name);
  return el("svg:g", { class: cls, transform: `translate(${p.x},${p.y})`, "data-op": u.collapsed ? null : op.name,
                       "data-group": u.group, onclick },
            el("svg:title", {}, u.collapsed ? "click to expand " + u.group : op.origin || op.name),
            el("svg:rect", { width: BW, height: BH }),
            el("svg:text", { x: 6, y: 14 }, clip(title, 27)),
            el("svg:text", { x: 6, y: 28, fill: "#6b7280" }, clip(sub, 27)));
}

const clip = (s, n) => s.length > n ? s.slice(0, n - 1) + "\u2026" : s;

// ------------------------------------------------------------------ ops table + details
function drawOpsTable() {
  const stage = DATA.stages[state.stage];
  const rows = stage.ops.map((o) => {
    const shown = state.query === "" || matches(o.name) || matches(o.group) || matches(o.origin);
    return el("tr", { "data-op": o.name, class: (shown ? "" : "hidden") + (state.selected === o.name ? " selected" : ""),
                      onclick: () => select(o.name) },
              el("td", { class: "mono" }, o.name), el("td", { class: "mono" }, `${o.kind}${shapeText(o.shape)}`),
              el("td", { class: "mono" }, `${o.op}(${o.inputs.join(", ")})`),
              el("td", { class: "mono" }, o.attrs), el("td", { class: "mono" }, o.origin));
  });
  $("ops").tBodies[0].replaceChildren(...rows);
  const shown = rows.filter((r) => !r.classList.contains("hidden")).length;
  $("op-count").textContent = state.query ? `(${shown} of ${rows.length} match)` : `(${rows.length} after ${stage.name})`;
}

function select(name) {
  state.selected = name;
  const group = groupOf(name);
  if (state.collapsed.has(group)) state.collapsed.delete(group);
  drawGraph();
  drawDetails(name);
}

function drawDetails(name) {
  const stage = DATA.stages[state.stage];
  const row = stage.ops.find((o) => o.name === name);
  const final = DATA.ops[name];
  const parts = [el("h2", { class: "mono", id: "detail-name" }, name)];
  if (!row) {
    parts.push(el("p", { class: "hint" }, `not in the IR after ${stage.name}`));
  } else {
    parts.push(el("dl", {},
      el("dt", {}, "computes"), el("dd", { class: "mono" }, `${row.kind}${shapeText(row.shape)} = ${row.op}(${row.inputs.join(", ")})`),
      el("dt", {}, "attributes"), el("dd", { class: "mono" }, row.attrs || "-"),
      el("dt", {}, "from"), el("dd", { id: "detail-origin" }, origins(row, final)),
      row.notes.length ? [el("dt", {}, "notes"), el("dd", {}, row.notes.map((n) => el("pre", {}, n)))] : null));
  }
  if (final) parts.push(fieldsOf(final));
  parts.push(historyOf(name));
  $("details").replaceChildren(...parts);
}

function origins(row, final) {
  if (final && final.origins.length) {
    return final.origins.map((o) => el("div", {},
      o.obj, " ", o.file ? el("span", { class: "origin" }, `${o.file}:${o.line}`) : "(no source line)",
      o.code ? el("pre", { class: "hint" }, o.code.trim()) : null));
  }
  return el("span", { class: "origin" }, row.origin || "-");
}

function fieldsOf(op) {
  const items = [];
  items.push(el("dt", {}, "runs"), el("dd", {}, `every ${op.every}` + (op.chip ? ", on the chip" : "") +
                                      (op.made_by ? `, made by ${op.made_by}` : "")));
  for (const [k, v] of Object.entries(op.fields)) items.push(el("dt", {}, k), el("dd", { class: "mono" }, v));
  for (const a of op.arrays) items.push(el("dt", {}, "array"), el("dd", { class: "mono" }, `${a.key}: ${a.dtype}${shapeText(a.shape)}`));
  return el("dl", {}, items);
}

function historyOf(name) {
  const rows = DATA.stages.map((s) => {
    const o = s.ops.find((x) => x.name === name);
    const what = !o ? (s.removed.includes(name) ? "removed" : "-") : o.status;
    return el("tr", {}, el("td", {}, s.name), el("td", {}, what));
  });
  return el("div", {}, el("h3", {}, "through the passes"), el("table", {}, el("tbody", {}, rows)));
}

// ------------------------------------------------------------------ Loihi
function drawLoihi() {
  const L = DATA.loihi;
  if (!L) return;
  $("loihi-section").hidden = false;
  $("core-count").textContent = `(${L.cores.length} cores on ${L.chips} chip${L.chips === 1 ? "" : "s"}` +
                                (L.fits ? ", every core within its limits)" : ", some core over a limit)");
  drawCoreMap(L);
  drawLayers(L);
  drawQuant(L);
  drawEnergy(L);
}

function drawCoreMap(L) {
  const PER_ROW = 16, S = 46;
  const svg = $("coremap");
  const n = L.cores.length;
  svg.setAttribute("width", Math.min(n, PER_ROW) * S + 8);
  svg.setAttribute("height", Math.ceil(n / PER_ROW) * S + 8);
  svg.replaceChildren(...L.cores.map((c, i) => {
    const f = c.fractions[c.fullest];
    const x = 4 + (i % PER_ROW) * S, y = 4 + Math.floor(i / PER_ROW) * S;
    return el("svg:g", { class: "tile", transform: `translate(${x},${y})`, "data-core": c.core,
                         "data-layer": c.layer, onclick: () => drawCore(c) },
              el("svg:title", {}, `core ${c.core}: ${c.object}, fullest ${c.fullest} ${pct(f)}`),
              el("svg:rect", { width: S - 4, height: S - 4, rx: 4, fill: heat(f), stroke: "#fff" }),
              el("svg:text", { x: 4, y: 14 }, String(c.core)),
              el("svg:text", { x: 4, y: 30 }, pct(f)));
  }));
}

function drawCore(c) {
  const L = DATA.loihi;
  for (const t of document.querySelectorAll(".tile")) t.classList.toggle("selected", t.dataset.core === String(c.core));
  const rows = Object.keys(L.limits).map((k) => el("tr", {}, el("td", {}, k.replace("_", " ")),
    el("td", {}, `${num(c.used[k])} of ${num(L.limits[k])}`), el("td", {}, bar(c.fractions[k]))));
  $("core-details").replaceChildren(el("h3", { id: "core-head" }, `core ${c.core} (chip ${c.chip}): ${c.object}, block ` +
    "[" + c.ranges.map((r) => r.join(":")).join(",") + "]"), el("table", {}, el("tbody", {}, rows)));
}

function drawLayers(L) {
  $("layers").replaceChildren(...L.layers.map((layer) => {
    const blocks = L.cores.filter((c) => c.layer === layer.name);
    const rows = blocks.map((c) => el("tr", {}, el("td", {}, c.core),
      el("td", { class: "mono" }, "[" + c.ranges.map((r) => r.join(":")).join(",") + "]"),
      ...Object.keys(L.limits).map((k) => el("td", {}, bar(c.fractions[k], `${num(c.used[k])} (${pct(c.fractions[k])})`)))));
    const head = el("tr", {}, el("th", {}, "core"), el("th", {}, "block"),
      ...Object.keys(L.limits).map((k) => el("th", {}, `${k.replace("_", " ")} / ${num(L.limits[k])}`)));
    const notes = (L.notes[layer.name] || []).map((t) => el("pre", { class: "hint" }, t));
    return el("details", { class: "layer", "data-layer": layer.name, open: L.layers.length <= 4 ? "" : null },
      el("summary", {}, `${layer.object} (${layer.name}): ${blocks.length} block${blocks.length === 1 ? "" : "s"}, ` +
                        `${num(layer.compartments)} compartments`),
      el("table", {}, el("thead", {}, head), el("tbody", {}, rows)), notes);
  }));
}

function drawQuant(L) {
  const rows = L.quantization.map((q) => el("tr", { "data-layer": q.layer },
    el("td", { class: "mono" }, q.layer), el("td", { class: "mono" }, q.source), el("td", { class: "mono" }, q.weights || "-"),
    el("td", {}, q.kind), el("td", {}, num(q.n_weights)), el("td", {}, q.w_exp.join(", ")),
    el("td", {}, pct(q.max_error)), el("td", {}, pct(q.rms_error)), el("td", {}, num(q.zeroed))));
  $("quant").tBodies[0].replaceChildren(...rows);
}

function drawEnergy(L) {
  const e = L.energy;
  if (!e) {
    $("energy").replaceChildren(el("p", { class: "hint" },
      `${num(L.macs)} multiply-accumulates per step in the chip's layers as a rate network. ` +
      "The chip's energy depends on its activity: give --params and --data to measure it."));
    return;
  }
  const uj = (j) => (j * 1e6).toFixed(j * 1e6 < 1 ? 3 : 2) + " \u00b5J";
  const rows = [["Loihi, total", uj(e.loihi_j)], ["Loihi, dynamic (spikes, synaptic ops)", uj(e.loihi_dynamic_j)],
                ["synaptic operations", num(Math.round(e.synops))], ["spikes", num(Math.round(e.spikes))],
                ["same layers as a rate network", num(e.macs) + " MACs"], ["on a CPU", uj(e.cpu_j)], ["on a GPU", uj(e.gpu_j)]];
  $("energy").replaceChildren(el("table", { id: "energy-table" }, el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v))))),
    el("p", { class: "hint" }, `per inference of ${e.steps} steps; Loihi constants from Davies et al. 2018, ` +
                               "CPU/GPU per-operation energies as KerasSpiking's; mesh hops are not counted."));
}

// ------------------------------------------------------------------ activity
function drawActivity() {
  const A = DATA.activity;
  if (!A) return;
  $("activity-section").hidden = false;
  $("activity-summary").textContent = `${A.examples} examples x ${A.steps} steps` +
    (A.compared ? "; beside each layer, the rate network's rates on the same examples"
                : A.no_rate ? `; no rate network to compare with (${A.no_rate})` : "");
  const rows = A.layers.map((r) => el("tr", { "data-layer": r.layer },
    el("td", {}, `${r.object} (${r.layer})`), el("td", {}, num(r.neurons)), el("td", {}, hz(r.mean_hz)),
    el("td", {}, hz(r.max_hz)), el("td", {}, pct(r.silent)), el("td", {}, histogramSvg(r.histogram)),
    el("td", {}, hz(r.rate_mean_hz)), el("td", {}, r.correlation === undefined || r.correlation === null ? "-" : r.correlation.toFixed(3)),
    el("td", {}, hz(r.rms_gap_hz))));
  $("activity").tBodies[0].replaceChildren(...rows);
  $("rates-chart").replaceChildren(ratesChart(A));
}

function histogramSvg(h) {
  const W = 120, H = 28, n = h.counts.length, top = Math.max(...h.counts, 1);
  return el("svg:svg", { width: W, height: H, class: "hist" },
    el("svg:title", {}, `0 to ${h.top.toFixed(1)} Hz in ${n} bins`),
    h.counts.map((c, i) => el("svg:rect", { x: i * W / n, y: H - H * c / top, width: W / n - 1, height: H * c / top, fill: "#3467c8" })));
}

function ratesChart(A) {
  const W = 120, H = 16, top = Math.max(...A.layers.map((r) => Math.max(r.mean_hz, r.rate_mean_hz || 0)), 1);
  const rows = A.layers.map((r, i) => el("svg:g", { transform: `translate(0,${i * (2 * H + 6)})` },
    el("svg:text", { x: 0, y: 12 }, clip(r.object, 26)),
    el("svg:rect", { x: 200, y: 0, width: 3 * W * r.mean_hz / top, height: H - 2, fill: "#3467c8" }),
    el("svg:text", { x: 204 + 3 * W * r.mean_hz / top, y: 12 }, "spiking " + hz(r.mean_hz)),
    r.rate_mean_hz === undefined ? null : [
      el("svg:rect", { x: 200, y: H, width: 3 * W * r.rate_mean_hz / top, height: H - 2, fill: "#d98a1c" }),
      el("svg:text", { x: 204 + 3 * W * r.rate_mean_hz / top, y: H + 12 }, "rate " + hz(r.rate_mean_hz))]));
  return el("svg:svg", { width: 200 + 3 * W + 140, height: A.layers.length * (2 * H + 6) }, rows);
}

// ------------------------------------------------------------------ search
function applySearch() {
  state.query = $("search").value.trim().toLowerCase();
  drawGraph();
  for (const t of document.querySelectorAll(".tile, #quant tr[data-layer], #activity tr[data-layer], details.layer")) {
    const hit = state.query === "" || matches(t.dataset.layer) || matches(prefixOf(t.dataset.layer));
    t.classList.toggle(t.tagName.toLowerCase() === "g" ? "dim" : "hidden", !hit);
  }
}

// ------------------------------------------------------------------ start
function start() {
  drawHeader();
  // many ops: start with each layer folded into one box (click a box to open it)
  const groups = new Set(DATA.stages.flatMap((s) => s.ops.map((o) => o.group)));
  if (Object.keys(DATA.ops).length > 30) for (const g of groups) state.collapsed.add(g);
  $("collapse-all").addEventListener("click", () => { for (const g of groups) state.collapsed.add(g); drawGraph(); });
  $("expand-all").addEventListener("click", () => { state.collapsed.clear(); drawGraph(); });
  $("search").addEventListener("input", applySearch);
  drawStages();
  drawGraph();
  drawLoihi();
  drawActivity();
}

start();
