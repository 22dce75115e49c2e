/**
 * @module
 * Browser-side part of the console script (see ./script.ts, which embeds
 * it): number formatting, the samples of replica lag this page has taken,
 * and the inline SVG chart of the last hour. Plain JavaScript in a string.
 *
 * The Worker keeps no history of polls, so the samples are the page's own:
 * one per `GET /db/:name` it made, kept in memory per database, pruned to the
 * last hour. A gap longer than three sampling periods (a failed request, a
 * throttled background tab) breaks the line instead of bridging it.
 */
export const CHART_JS = String.raw`
const WINDOW_MS = 3600000;
const SVG_NS = "http://www.w3.org/2000/svg";
const samples = new Map();

function fmtMs(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "n/a";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  if (ms < 3600000) return (ms / 60000).toFixed(1) + " min";
  if (ms < 172800000) return (ms / 3600000).toFixed(1) + " h";
  return (ms / 86400000).toFixed(1) + " d";
}

function fmtBytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "n/a";
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}

/** Records one status sample of a database; drops what is older than the window. */
function addSample(db, sample) {
  const list = samples.get(db) || [];
  list.push(sample);
  const from = sample.at - WINDOW_MS;
  while (list.length > 0 && list[0].at < from) list.shift();
  samples.set(db, list);
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** 1, 2 or 5 times a power of ten, at least x: round numbers for the y axis. */
function niceCeil(x) {
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

/** Redraws the chart of one database's samples over the hour ending now. */
function renderChart(db) {
  const W = 640, H = 180, L = 64, R = 12, T = 10, B = 26;
  const plot = document.getElementById("lag-plot");
  const desc = document.getElementById("lag-desc");
  if (!plot || !desc) return;
  const now = Date.now();
  const from = now - WINDOW_MS;
  const pts = (samples.get(db) || []).filter((s) => s.at >= from && s.lagMs !== null);
  const top = niceCeil(Math.max(1000, ...pts.map((s) => s.lagMs)));
  const x = (t) => L + ((t - from) / WINDOW_MS) * (W - L - R);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const parts = [
    svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
    svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
  ];
  for (const v of [0, top / 2, top]) {
    parts.push(svg("text", { class: "tick", x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmtMs(v)));
  }
  for (const [t, label] of [[from, "−60 min"], [from + WINDOW_MS / 2, "−30 min"], [now, "now"]]) {
    parts.push(svg("text", { class: "tick", x: x(t), y: H - 8, "text-anchor": t === from ? "start" : t === now ? "end" : "middle" }, label));
  }
  let line = [];
  const flush = () => { if (line.length > 1) parts.push(svg("polyline", { class: "lag", points: line.join(" ") })); line = []; };
  let prev = null;
  for (const s of pts) {
    if (prev !== null && s.at - prev > 3 * SAMPLE_MS) flush();
    line.push(x(s.at).toFixed(1) + "," + y(s.lagMs).toFixed(1));
    parts.push(svg("circle", { class: "dot", cx: x(s.at).toFixed(1), cy: y(s.lagMs).toFixed(1), r: 2.5 }));
    prev = s.at;
  }
  flush();
  plot.replaceChildren(...parts);
  plot.setAttribute("data-samples", String(pts.length));
  const last = pts[pts.length - 1];
  desc.textContent = pts.length === 0
    ? "No samples yet."
    : pts.length + (pts.length === 1 ? " sample" : " samples") + " since " + new Date(pts[0].at).toLocaleTimeString() +
      "; latest lag " + fmtMs(last.lagMs) + ", highest " + fmtMs(Math.max(...pts.map((s) => s.lagMs))) + ".";
}
`;
