/**
 * @module
 * The console's browser script, served at `/console/console.js` as plain
 * JavaScript (the Worker has no build step for browser code). The chart
 * helpers come from ./chart-script.ts and share this script's scope.
 *
 * Invariants that keep it safe whatever a database holds:
 * - Values reach the page only through `textContent` and `setAttribute`;
 *   there is no HTML parsing of data (and the page's Trusted Types policy
 *   makes `innerHTML` throw).
 * - The token is sent only to this origin, as a bearer header, and kept in
 *   `sessionStorage` (gone when the tab closes).
 */
import { CHART_JS } from "./chart-script.ts";

const MAIN_JS = String.raw`
const TOKEN_KEY = "ltx-edge.console.token";
const DB_KEY = "ltx-edge.console.db";
const SAMPLE_MS = 10000;
const LOG_MAX = 50;

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error("console: #" + id + " is missing");
  return el;
};

/** An element with attributes (strings, set as attributes) and text or child nodes. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

const store = {
  get(key) { try { return sessionStorage.getItem(key) || ""; } catch { return ""; } },
  set(key, v) { try { if (v) sessionStorage.setItem(key, v); else sessionStorage.removeItem(key); } catch { /* storage off: keep going */ } },
};

/** A number as the JSON text had it (every digit of a 64-bit integer, 1.0 stays 1.0). */
class ExactNumber { constructor(text) { this.text = text; } }
/** JSON.parse that hands the reviver each value's source text (Chromium 114+, Firefox 135+). */
const SOURCE_TEXT = (() => {
  let ok = false;
  try { JSON.parse("1", (k, v, ctx) => { ok = ok || (ctx !== undefined && ctx.source === "1"); return v; }); } catch { /* older engine */ }
  return ok;
})();
const exact = (k, v, ctx) => (typeof v === "number" && ctx && typeof ctx.source === "string" ? new ExactNumber(ctx.source) : v);

class ApiFailure extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

/** One call to this Worker's JSON API; the error body's code and message become an ApiFailure. */
async function api(path, init) {
  const headers = new Headers((init && init.headers) || {});
  const token = store.get(TOKEN_KEY);
  if (token) headers.set("authorization", "Bearer " + token);
  let res;
  try {
    res = await fetch(path, { ...init, headers, cache: "no-store", credentials: "omit" });
  } catch (e) {
    throw new ApiFailure(0, "NETWORK", "the Worker did not answer: " + (e && e.message ? e.message : String(e)));
  }
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { throw new ApiFailure(res.status, "BAD_RESPONSE", "not JSON (HTTP " + res.status + "): " + text.slice(0, 200)); }
  if (!res.ok) {
    const err = body && typeof body === "object" && body.error ? body.error : {};
    throw new ApiFailure(res.status, String(err.code || "HTTP_" + res.status), String(err.message || res.statusText));
  }
  return { body, text };
}

const dbPath = (name) => "/db/" + encodeURIComponent(name);
const hexTxid = (n) => (typeof n === "number" ? n.toString(16).padStart(16, "0") : "");

function showError(e) {
  const box = $("error");
  if (e instanceof ApiFailure) {
    let hint = "";
    if (e.status === 401) hint = "\nThis Worker wants an API token: enter it above.";
    if (e.status === 403 && e.code === "FORBIDDEN") hint = "\nThe token was refused: check it and enter it again.";
    box.textContent = e.code + ": " + e.message + hint;
    if (e.status === 401 || e.code === "FORBIDDEN") $("token").focus();
  } else {
    box.textContent = String(e && e.message ? e.message : e);
  }
}
const clearError = () => { $("error").textContent = ""; };
const say = (text) => { $("conn").textContent = text; };

/** Replaces a <dl>'s content with [label, value, field] rows; field names the dd for tests and styling. */
function facts(dl, rows) {
  dl.replaceChildren(...rows.map(([label, value, field]) => el("div", {}, el("dt", {}, label), el("dd", field ? { "data-field": field } : {}, value))));
}

// --- databases -----------------------------------------------------------------------------

const state = { db: "", timer: 0, statusBusy: false, runs: 0 };

async function loadDatabases() {
  const select = $("db");
  select.disabled = true;
  say("Loading databases…");
  try {
    const names = [];
    let cursor = null;
    do {
      const { body } = await api("/db?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      for (const d of body.databases) names.push(String(d.name));
      cursor = body.cursor;
    } while (cursor && names.length < 10000);
    select.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
    clearError();
    say(names.length + (names.length === 1 ? " database" : " databases") + (cursor ? " (first 10,000 shown)" : ""));
    if (names.length === 0) return;
    const remembered = store.get(DB_KEY);
    select.value = names.includes(remembered) ? remembered : names[0];
    select.disabled = false;
    selectDatabase(select.value);
  } catch (e) {
    say("Could not list databases.");
    showError(e);
  }
}

function selectDatabase(name) {
  state.db = name;
  store.set(DB_KEY, name);
  clearInterval(state.timer);
  $("status").replaceChildren();
  renderChart(name);
  refreshStatus();
  state.timer = setInterval(refreshStatus, SAMPLE_MS);
}

async function refreshStatus() {
  const name = state.db;
  if (!name || state.statusBusy) return;
  state.statusBusy = true;
  try {
    const { body: s } = await api(dbPath(name));
    if (name !== state.db) return;
    const f = s.freshness || {};
    const p = s.position;
    const err = s.lastError;
    facts($("status"), [
      ["state", String(s.state), "state"],
      ["TXID", p ? hexTxid(p.txid) : "none yet", "txid"],
      ["position time", p && p.timestamp > 0 ? new Date(p.timestamp).toISOString() : "unknown", "position_time"],
      ["lag (since last poll)", fmtMs(f.sinceLastPollMs), "lag"],
      ["newest file age", fmtMs(f.newestFileAgeMs), "newest_file_age"],
      ["poll interval", fmtMs(s.currentIntervalMs) + " (configured " + fmtMs(s.pollIntervalMs) + ")", "poll_interval"],
      ["last error", err ? err.code + ": " + err.message + " (" + new Date(err.at).toISOString() + ")" : "none", "last_error"],
      ["files", String(s.files), "files"],
      ["pages", p ? s.pages + " × " + p.pageSize + " B" : String(s.pages), "pages"],
      ["index", fmtBytes(s.indexBytes), "index_bytes"],
      ["rebuilds / heals", s.rebuilds + " / " + (s.heals ? s.heals.length : 0), "rebuilds"],
      ["source", String(s.source), "source"],
    ]);
    addSample(name, { at: Date.now(), lagMs: typeof f.sinceLastPollMs === "number" ? f.sinceLastPollMs : null, state: String(s.state) });
  } catch (e) {
    if (name === state.db) facts($("status"), [["status", e instanceof ApiFailure ? e.code + ": " + e.message : String(e), "error"]]);
  } finally {
    state.statusBusy = false;
    if (name === state.db) renderChart(name);
  }
}

// --- queries -------------------------------------------------------------------------------

/** The request body as JSON text; params are spliced in as typed, so big integers keep every digit. */
function requestBody() {
  const parts = ['"sql":' + JSON.stringify($("sql").value)];
  const params = $("params").value.trim();
  if (params) {
    let parsed;
    try { parsed = JSON.parse(params); } catch (e) { throw new Error("Parameters must be JSON: " + e.message); }
    if (parsed === null || typeof parsed !== "object") throw new Error("Parameters must be a JSON array or object.");
    parts.push('"params":' + params);
  }
  const txid = $("txid").value.trim();
  const ts = $("timestamp").value.trim();
  if (txid && ts) throw new Error("Time travel: give a TXID or a timestamp, not both.");
  if (txid) parts.push('"txid":' + JSON.stringify(txid));
  if (ts) parts.push('"timestamp":' + (/^[0-9]+$/.test(ts) ? ts : JSON.stringify(ts)));
  // Without source text, JSON.parse would round integers beyond 2^53: ask for them as strings.
  if (!SOURCE_TEXT) parts.push('"integers":"string"');
  return { text: "{" + parts.join(",") + "}", at: txid ? "txid " + txid : ts ? "timestamp " + ts : "live" };
}

function cell(v) {
  const td = document.createElement("td");
  if (v === null) { td.textContent = "NULL"; td.className = "null"; td.dataset.type = "null"; }
  else if (v instanceof ExactNumber) { td.textContent = v.text; td.className = "num"; td.dataset.type = "number"; }
  else if (typeof v === "number") { td.textContent = String(v); td.className = "num"; td.dataset.type = "number"; }
  else if (typeof v === "string") { td.textContent = v; td.dataset.type = "text"; td.title = v.length > 40 ? v : ""; }
  else if (v && typeof v === "object" && typeof v.base64 === "string") {
    const b = v.base64;
    const bytes = Math.floor((b.length * 3) / 4) - (b.endsWith("==") ? 2 : b.endsWith("=") ? 1 : 0);
    td.textContent = "BLOB " + bytes + " B";
    td.title = "base64: " + b.slice(0, 400);
    td.className = "blob";
    td.dataset.type = "blob";
  } else { td.textContent = JSON.stringify(v); }
  return td;
}

function renderRows(columns, rows, caption) {
  const table = $("rows");
  table.tHead.replaceChildren(el("tr", {}, ...columns.map((c) => el("th", { scope: "col" }, String(c)))));
  table.tBodies[0].replaceChildren(...rows.map((r) => { const tr = document.createElement("tr"); for (const v of r) tr.append(cell(v)); return tr; }));
  table.caption.textContent = caption;
}

function renderMeta(m) {
  facts($("meta"), [
    ["TXID", String(m.txid_hex), "txid_hex"],
    ["served from", String(m.served_from), "served_from"],
    ["position time", String(m.position_time), "position_time"],
    ["rows", String(m.rows_returned), "rows_returned"],
    ["duration", m.duration_ms + " ms (exec " + m.exec_ms + " ms)", "duration_ms"],
    ["storage requests", String(m.storage_requests), "storage_requests"],
    ["bytes fetched", fmtBytes(m.bytes_fetched), "bytes_fetched"],
    ["cache hits", String(m.cache_hits), "cache_hits"],
    ["isolate hits", String(m.isolate_hits), "isolate_hits"],
    ["cache misses", String(m.cache_misses), "cache_misses"],
    ["staleness", m.staleness_ms === null ? "n/a (time travel)" : fmtMs(m.staleness_ms), "staleness_ms"],
  ]);
}

function logQuery(sql, at, m) {
  const short = sql.length > 80 ? sql.slice(0, 79) + "…" : sql;
  const row = el("tr", {},
    el("td", {}, new Date().toLocaleTimeString()), el("td", {}, state.db), el("td", { title: sql }, short), el("td", {}, at),
    el("td", {}, String(m.txid_hex)), el("td", { class: "num" }, String(m.rows_returned)), el("td", { class: "num" }, String(m.duration_ms)),
    el("td", { class: "num", "data-field": "storage_requests" }, String(m.storage_requests)),
    el("td", { class: "num", "data-field": "cache_hits" }, String(m.cache_hits)),
    el("td", { class: "num", "data-field": "isolate_hits" }, String(m.isolate_hits)));
  const body = $("log").tBodies[0];
  body.prepend(row);
  while (body.rows.length > LOG_MAX) body.deleteRow(-1);
}

async function runQuery(ev) {
  ev.preventDefault();
  const result = $("result");
  const button = $("run");
  if (!state.db) { showError(new Error("Pick a database first.")); return; }
  let req;
  try { req = requestBody(); } catch (e) { showError(e); return; }
  const run = ++state.runs;
  clearError();
  button.disabled = true;
  result.setAttribute("aria-busy", "true");
  try {
    const sql = $("sql").value;
    const { body, text } = await api(dbPath(state.db) + "/query", { method: "POST", headers: { "content-type": "application/json" }, body: req.text });
    const rows = SOURCE_TEXT ? JSON.parse(text, exact).rows : body.rows;
    renderMeta(body.meta);
    renderRows(body.columns, rows, rows.length + (rows.length === 1 ? " row" : " rows") + " from " + state.db + " at TXID " + body.meta.txid_hex + " (" + body.meta.served_from + ")");
    logQuery(sql, req.at, body.meta);
    result.dataset.outcome = "rows";
  } catch (e) {
    showError(e);
    result.dataset.outcome = "error";
  } finally {
    button.disabled = false;
    result.removeAttribute("aria-busy");
    // Tells waiting eyes (and tests) that this run is fully rendered.
    result.dataset.run = String(run);
  }
  refreshStatus();
}

// --- wiring --------------------------------------------------------------------------------

function start() {
  $("token").value = store.get(TOKEN_KEY);
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    store.set(TOKEN_KEY, $("token").value.trim());
    loadDatabases();
  });
  $("token-forget").addEventListener("click", () => {
    store.set(TOKEN_KEY, "");
    $("token").value = "";
    say("Token forgotten.");
  });
  $("db").addEventListener("change", (ev) => selectDatabase(ev.target.value));
  $("db-reload").addEventListener("click", loadDatabases);
  $("status-refresh").addEventListener("click", refreshStatus);
  $("query-form").addEventListener("submit", runQuery);
  for (const id of ["sql", "params", "txid", "timestamp"]) {
    $(id).addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); $("query-form").requestSubmit(); }
    });
  }
  loadDatabases();
}
`;

/** The whole script: strict, in a scope of its own, started once the page is parsed (`defer`). */
export const CONSOLE_JS = `"use strict";\n(() => {\n${CHART_JS}\n${MAIN_JS}\nstart();\n})();\n`;
