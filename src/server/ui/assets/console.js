// The inflight console's only script. Plain JavaScript, no library: it keeps the overview up to
// date (polling /ui/api/overview and drawing the charts as SVG by hand) and, on the Draft page,
// moves the editor to the line of an error. Text from the server is only ever set with
// textContent, never parsed as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 5000;

function el(name, attrs, text) {
  const node = name.startsWith("svg:") ? document.createElementNS(SVG, name.slice(4)) : document.createElement(name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function setText(id, value) {
  const node = document.getElementById(id);
  if (node) node.textContent = String(value);
}

// Stacked bars, one per minute: series is [{values, colour, name}], all of the same length.
function drawBars(svg, minutes, series) {
  svg.replaceChildren();
  const W = 600, H = 140, left = 34, bottom = 18, top = 6;
  const n = minutes.length;
  const totals = minutes.map((_, i) => series.reduce((s, x) => s + x.values[i], 0));
  const max = Math.max(1, ...totals);
  const bw = (W - left) / n;
  const y = (v) => H - bottom - (v / max) * (H - bottom - top);
  svg.append(el("svg:line", { x1: left, x2: W, y1: H - bottom, y2: H - bottom, class: "axis" }));
  svg.append(el("svg:text", { x: left - 4, y: top + 8, "text-anchor": "end" }, max));
  svg.append(el("svg:text", { x: left - 4, y: H - bottom, "text-anchor": "end" }, 0));
  for (let i = 0; i < n; i++) {
    let base = 0;
    for (const s of series) {
      const v = s.values[i];
      if (v > 0) {
        const rect = el("svg:rect", { x: left + i * bw + 0.5, width: Math.max(1, bw - 1), y: y(base + v), height: y(base) - y(base + v), fill: s.colour });
        rect.append(el("svg:title", {}, `${clock(minutes[i])} ${s.name}: ${v}`));
        svg.append(rect);
        base += v;
      }
    }
  }
  for (const [i, anchor] of [[0, "start"], [Math.floor(n / 2), "middle"], [n - 1, "end"]]) {
    const x = anchor === "start" ? left + i * bw : anchor === "end" ? left + (i + 1) * bw : left + i * bw + bw / 2;
    svg.append(el("svg:text", { x, y: H - 4, "text-anchor": anchor }, clock(minutes[i])));
  }
}

function clock(unixSeconds) {
  const d = new Date(unixSeconds * 1000);
  return d.toTimeString().slice(0, 5);
}

function sparkline(values) {
  const svg = el("svg:svg", { viewBox: "0 0 120 22", role: "img", "aria-label": `per minute, last hour: ${values.reduce((a, b) => a + b, 0)} hits` });
  const max = Math.max(1, ...values);
  const step = 120 / Math.max(1, values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(20 - (v / max) * 18).toFixed(1)}`).join(" ");
  svg.append(el("svg:polyline", { points, fill: "none", stroke: "#1f5fbf", "stroke-width": "1.5" }));
  return svg;
}

const COLOURS = { allow: "#5b8def", tag: "#e0a400", drop: "#d6453d", enforce: "#1f5fbf", shadow: "#9aa5b1" };

function renderOverview(o) {
  const rs = o.ruleset;
  setText("ruleset-hash", rs ? rs.hash : "none");
  if (rs) {
    setText("ruleset-loaded", rs.loaded_at);
    setText("ruleset-rules", rs.rules);
    setText("ruleset-keywords", rs.keywords);
    setText("ruleset-regexes", rs.regexes);
    setText("ruleset-packs", rs.packs);
    setText("ruleset-drop", rs.drop_score === null ? "none" : rs.drop_score);
  }
  const err = document.getElementById("reload-error");
  if (err) {
    err.textContent = o.last_reload_error || "no error: the files on disk are serving";
    err.className = o.last_reload_error ? "error" : "ok";
  }
  setText("reload-error-at", o.last_reload_error_at ? `failed at ${o.last_reload_error_at}; the previous rule set keeps serving` : "");
  setText("state", o.state === null ? "not in use" : (typeof o.state === "string" ? o.state : JSON.stringify(o.state)));
  if (o.recent_capacity !== null) setText("recent", `${o.recent_kept} of the last ${o.recent_capacity} messages kept in memory for Draft replay`);
  for (const a of ["allow", "tag", "drop"]) {
    setText(`hour-${a}`, o.last_hour[a]);
    setText(`total-${a}`, o.since_start[a]);
  }
  const minutes = o.series.minutes;
  drawBars(document.getElementById("chart-actions"), minutes, ["allow", "tag", "drop"].map((a, i) => ({ name: a, values: o.series.actions[i], colour: COLOURS[a] })));
  drawBars(document.getElementById("chart-hits"), minutes, [
    { name: "enforce", values: o.enforce_hits, colour: COLOURS.enforce },
    { name: "shadow", values: o.shadow_hits, colour: COLOURS.shadow },
  ]);
  renderRules(o);
  renderReloads(o.reloads);
  setText("updated", `Updated ${new Date().toLocaleTimeString()}; updates every ${POLL_MS / 1000} seconds.`);
}

function renderRules(o) {
  setText("never-hit", `(${o.never_hit} never hit since start)`);
  const body = document.getElementById("rules-body");
  if (!body) return;
  body.replaceChildren(...o.rules.map((r) => {
    const tr = el("tr", r.total === 0 ? { class: "never" } : {});
    const id = el("td");
    id.append(el("code", {}, r.id));
    if (r.total === 0) { id.append(" "); id.append(el("span", { class: "badge" }, "never hit")); }
    const mode = el("td");
    mode.append(el("span", { class: `mode ${r.mode}` }, r.mode));
    const spark = el("td", { class: "spark" });
    if (r.series) spark.append(sparkline(r.series));
    const place = el("td");
    place.append(el("code", {}, r.place));
    tr.append(id, mode, el("td", {}, r.action), el("td", { class: "num" }, r.hour), spark, el("td", { class: "num" }, r.total), place);
    return tr;
  }));
}

function renderReloads(reloads) {
  const body = document.getElementById("reloads-body");
  if (!body) return;
  body.replaceChildren(...reloads.map((r) => {
    const tr = el("tr", { class: r.outcome });
    const hash = el("td");
    hash.append(el("code", {}, r.hash || ""));
    const error = el("td");
    if (r.error) {
      error.append(el("code", {}, r.error));
      if (r.errors > 1) error.append(` (and ${r.errors - 1} more)`);
    }
    tr.append(el("td", {}, r.at), el("td", {}, r.trigger), el("td", {}, r.outcome), hash, error);
    return tr;
  }));
}

async function poll() {
  try {
    const res = await fetch("/ui/api/overview", { credentials: "same-origin", cache: "no-store" });
    if (res.ok) renderOverview(await res.json());
    else setText("updated", `Update failed: ${res.status}`);
  } catch (e) {
    setText("updated", `Update failed: ${e}`);
  }
}

// Draft: a click (or Enter) on "line N" selects that line in the editor.
function goToLine(editor, line) {
  const lines = editor.value.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  const end = start + (lines[line - 1] || "").length;
  editor.focus();
  editor.setSelectionRange(start, end);
  const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 20;
  editor.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

function setUpDraft() {
  const editor = document.getElementById("editor");
  if (!editor) return;
  document.querySelectorAll("[data-line]").forEach((a) => {
    a.addEventListener("click", (event) => {
      event.preventDefault();
      goToLine(editor, Number(a.dataset.line));
    });
  });
  // Ctrl+Enter (or Cmd+Enter) in the editor runs Check.
  editor.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      document.getElementById("do-check").click();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "overview") {
    poll();
    setInterval(poll, POLL_MS);
  } else if (page === "draft") {
    setUpDraft();
  }
});
