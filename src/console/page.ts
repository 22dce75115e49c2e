/**
 * @module
 * The console's markup and stylesheet. Static text: nothing from a request
 * or a database is ever put into it (the script fills the page through DOM
 * APIs). No inline script or style, so the strict policy of ./app.ts holds.
 */

/** The one page, served at `/console`. */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ltx-edge console</title>
<link rel="stylesheet" href="/console/console.css">
<script src="/console/console.js" defer></script>
</head>
<body>
<header>
  <h1>ltx-edge console</h1>
  <p id="conn" role="status" aria-live="polite"></p>
</header>
<main>
<section aria-labelledby="h-access">
  <h2 id="h-access">Database</h2>
  <form id="token-form" class="row">
    <label for="token">API token</label>
    <input id="token" type="password" autocomplete="off" spellcheck="false" aria-describedby="token-help">
    <button type="submit">Use token</button>
    <button type="button" id="token-forget">Forget token</button>
  </form>
  <p id="token-help" class="help">Sent as <code>Authorization: Bearer …</code> and kept in this tab's session storage only.
    Not needed for a local <code>wrangler dev</code> without an <code>API_TOKEN</code>.</p>
  <div class="row">
    <label for="db">Database</label>
    <select id="db" disabled></select>
    <button type="button" id="db-reload">Reload list</button>
  </div>
</section>

<section aria-labelledby="h-status">
  <h2 id="h-status">Replica status</h2>
  <div class="row"><button type="button" id="status-refresh">Refresh status</button></div>
  <dl id="status" class="facts"></dl>
  <figure>
    <svg id="lag-chart" role="img" aria-labelledby="lag-title lag-desc" viewBox="0 0 640 180" width="640" height="180">
      <title id="lag-title">Replica lag over the last hour</title>
      <desc id="lag-desc">No samples yet.</desc>
      <g id="lag-plot"></g>
    </svg>
    <figcaption>Lag: time since the Durable Object last polled the replica successfully. The Worker keeps
      no history, so this page samples <code>GET /db/:name</code> every 10 s while it is open (and after each
      query): the chart shows what this page has seen, at most the last hour.</figcaption>
  </figure>
</section>

<section aria-labelledby="h-query">
  <h2 id="h-query">Query</h2>
  <form id="query-form">
    <label for="sql">SQL <span class="help">(one statement; Ctrl+Enter runs it)</span></label>
    <textarea id="sql" rows="4" spellcheck="false" required>SELECT name, type FROM sqlite_schema ORDER BY name</textarea>
    <label for="params">Parameters <span class="help">(JSON: an array for <code>?</code>, an object for <code>:name</code>; optional)</span></label>
    <textarea id="params" rows="1" spellcheck="false" placeholder="[7]"></textarea>
    <fieldset>
      <legend>Time travel <span class="help">(optional; give at most one)</span></legend>
      <div class="row">
        <label for="txid">TXID</label>
        <input id="txid" spellcheck="false" autocomplete="off" placeholder="0000000000000015">
        <label for="timestamp">Timestamp</label>
        <input id="timestamp" spellcheck="false" autocomplete="off" placeholder="2026-11-26T09:40:50Z">
      </div>
    </fieldset>
    <div class="row"><button type="submit" id="run">Run query</button></div>
  </form>
  <div id="error" role="alert"></div>
  <div id="result" data-run="0">
    <dl id="meta" class="facts"></dl>
    <div class="table-wrap" role="region" aria-labelledby="rows-caption" tabindex="0">
      <table id="rows"><caption id="rows-caption" aria-live="polite">No query run yet</caption><thead></thead><tbody></tbody></table>
    </div>
  </div>
</section>

<section aria-labelledby="h-log">
  <h2 id="h-log">Queries in this tab</h2>
  <div class="table-wrap" role="region" aria-labelledby="h-log" tabindex="0">
    <table id="log">
      <thead><tr>
        <th scope="col">time</th><th scope="col">database</th><th scope="col">SQL</th><th scope="col">read at</th>
        <th scope="col">served TXID</th><th scope="col">rows</th><th scope="col">ms</th>
        <th scope="col">storage requests</th><th scope="col">cache hits</th><th scope="col">isolate hits</th>
      </tr></thead>
      <tbody></tbody>
    </table>
  </div>
</section>
</main>
</body>
</html>
`;

/** The stylesheet, served at `/console/console.css`. */
export const CONSOLE_CSS = `:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fff; --muted: #5d5d5d; --line: #c8c8c8; --accent: #0b57d0; --bad: #b3261e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e6e6; --bg: #161616; --muted: #a8a8a8; --line: #444; --accent: #8ab4f8; --bad: #f2b8b5; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header, main { max-width: 72rem; margin: 0 auto; padding: 0 1rem; }
header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; }
h1 { font-size: 1.4rem; margin: 1rem 0 0.5rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 0.5rem; }
section { border-top: 1px solid var(--line); }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem; margin: 0.4rem 0; }
label { font-weight: 600; }
form > label { display: block; margin-top: 0.6rem; }
input, select, textarea, button { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 0.3rem 0.5rem; }
textarea { width: 100%; font-family: ui-monospace, monospace; }
#txid, #timestamp { font-family: ui-monospace, monospace; min-width: 14rem; }
button { cursor: pointer; border-color: var(--accent); }
button[type=submit] { background: var(--accent); color: var(--bg); }
button:disabled, select:disabled { opacity: 0.6; cursor: default; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
fieldset { border: 1px solid var(--line); border-radius: 4px; margin: 0.8rem 0; }
.help { color: var(--muted); font-weight: normal; font-size: 0.9em; }
code { font-family: ui-monospace, monospace; font-size: 0.95em; }
#conn { color: var(--muted); margin: 0; }
#error:not(:empty) { color: var(--bad); border: 1px solid var(--bad); border-radius: 4px; padding: 0.5rem; margin: 0.6rem 0; white-space: pre-wrap; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: 0.5rem 1rem; margin: 0.6rem 0; }
.facts div { min-width: 0; }
.facts dt { color: var(--muted); font-size: 0.85em; }
.facts dd { margin: 0; font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
figure { margin: 0.5rem 0; }
figcaption { color: var(--muted); font-size: 0.9em; max-width: 40rem; }
svg { max-width: 100%; height: auto; }
svg .axis { stroke: var(--line); }
svg .tick { fill: var(--muted); font: 11px system-ui, sans-serif; }
svg .lag { fill: none; stroke: var(--accent); stroke-width: 2; }
svg .dot { fill: var(--accent); }
.table-wrap { overflow: auto; max-height: 32rem; border: 1px solid var(--line); border-radius: 4px; margin: 0.6rem 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
caption { text-align: left; padding: 0.3rem 0.5rem; color: var(--muted); }
th, td { border-bottom: 1px solid var(--line); padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; max-width: 28rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
th { position: sticky; top: 0; background: var(--bg); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.null, td.blob { color: var(--muted); font-style: italic; }
`;
