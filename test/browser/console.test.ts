/**
 * The web console in headless Chromium against the real Worker under
 * `ltx-edge dev` (so also: dev turns the console on), with an API token
 * configured: the page asks for the token, lists the databases, shows the
 * replica's status and lag chart, runs a query with parameters, a query by
 * TXID and one by timestamp, and the rendered rows are compared with the
 * fixture's manifest. Screenshots go to test-artifacts/.
 *
 * Steps share one page and run in order. Every wait is for a condition the
 * page shows (a run counter, a status field), never a fixed time.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, HTTPRequest, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { FixtureManifest, FixtureState } from "../support/fixtures.ts";
import { REPO, assertBuilt } from "../node/dist.ts";
import { ARTIFACTS, type DevServer, launchBrowser, startDev } from "./harness.ts";

const manifest = JSON.parse(readFileSync(join(REPO, "test", "fixtures", "small", "manifest.json"), "utf8")) as FixtureManifest;
const USERS = "SELECT id, name, email, age, score FROM users ORDER BY id LIMIT 5";
const BY_EMAIL = "SELECT id, name, age FROM users WHERE email = 'user7@example.com'";
const TOKEN = "console-test-token";
/** Generous, for a loaded 2-core machine: how long one condition may take to show. */
const WAIT = { timeout: 120_000 };

function expected(txid: string, sql: string): unknown[][] {
  const state = manifest.checked_states.find((s: FixtureState) => s.txid === txid);
  const rows = state?.queries?.find((q) => q.sql === sql)?.rows;
  if (!rows) throw new Error(`manifest of small has no ${sql} at ${txid}`);
  return rows;
}

interface Cell {
  type: string;
  text: string;
}

/** A manifest value as the page renders it: NULL marked as such, numbers by value, text verbatim. */
function matches(cell: Cell, want: unknown): boolean {
  if (want === null) return cell.type === "null" && cell.text === "NULL";
  if (typeof want === "number") return cell.type === "number" && Number(cell.text) === want;
  return cell.type === "text" && cell.text === want;
}

function expectRows(got: Cell[][], want: unknown[][]): void {
  expect(got.length, JSON.stringify(got)).toBe(want.length);
  got.forEach((row, i) => {
    const w = want[i] ?? [];
    expect(row.length).toBe(w.length);
    row.forEach((c, j) => expect(matches(c, w[j]), `row ${i} col ${j}: ${JSON.stringify(c)} vs ${JSON.stringify(w[j])}`).toBe(true));
  });
}

let dev: DevServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
const authHeaders: (string | undefined)[] = [];

const text = (selector: string) => page.$eval(selector, (e) => e.textContent ?? "");
const field = (dl: string, name: string) => text(`#${dl} [data-field="${name}"]`);
const renderedRows = () =>
  page.$$eval("#rows tbody tr", (trs) => trs.map((tr) => Array.from((tr as HTMLTableRowElement).cells, (td) => ({ type: td.dataset.type ?? "", text: td.textContent ?? "" }))));
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });

async function setValue(selector: string, value: string): Promise<void> {
  await page.$eval(selector, (e) => ((e as HTMLInputElement).value = ""));
  if (value) await page.type(selector, value);
}

/** Runs the query form as it is, waits for run number `n` to be rendered and checks its outcome. */
async function run(n: number, how: "click" | "keyboard" = "click", outcome: "rows" | "error" = "rows"): Promise<void> {
  if (how === "click") await page.click("#run");
  else {
    await page.focus("#sql");
    await page.keyboard.down("Control");
    await page.keyboard.press("Enter");
    await page.keyboard.up("Control");
  }
  await page.waitForSelector(`#result[data-run="${n}"]`, WAIT);
  expect(await page.$eval("#result", (e) => (e as HTMLElement).dataset.outcome), await text("#error")).toBe(outcome);
}

beforeAll(async () => {
  assertBuilt(); // the bin runs dist/
  mkdirSync(ARTIFACTS, { recursive: true });
  dev = await startDev(TOKEN);
  browser = await launchBrowser();
  page = await browser.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("request", (r: HTTPRequest) => {
    if (new URL(r.url()).pathname.startsWith("/db")) authHeaders.push(r.headers().authorization);
  });
  // CSP violations would be silent otherwise: record them before any script runs.
  await page.evaluateOnNewDocument(
    "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
  );
});

afterAll(async () => {
  await browser?.close();
  await dev?.stop();
});

describe("the console in Chromium", () => {
  test("is served with its policy, asks for the token, then lists the databases", async () => {
    const res = await page.goto(`${dev.base}/console`, { waitUntil: "load" });
    expect(res?.status()).toBe(200);
    expect(res?.headers()["content-security-policy"]).toMatch(/^default-src 'none'; script-src 'self'/);
    // No token yet: the Worker says 401 and the page says what to do.
    await page.waitForFunction(() => (document.getElementById("error")?.textContent ?? "").includes("UNAUTHORIZED"), WAIT);
    expect(await text("#error")).toContain("wants an API token");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("token");
    await shot("1-token");

    await page.type("#token", TOKEN);
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => Array.from((document.getElementById("db") as HTMLSelectElement).options, (o) => o.value).includes("sample"), WAIT);
    expect(await page.$eval("#db", (e) => (e as HTMLSelectElement).value)).toBe("sample");
    expect(await text("#error")).toBe("");
    expect(await page.evaluate(() => sessionStorage.getItem("ltx-edge.console.token"))).toBe(TOKEN);
    expect(authHeaders[0]).toBeUndefined();
    expect(authHeaders.at(-1)).toBe(`Bearer ${TOKEN}`);
  });

  test("shows the replica's status and starts the lag chart", async () => {
    // The function runs in the page: the value is handed over, not closed over.
    await page.waitForFunction((txid: string) => document.querySelector('#status [data-field="txid"]')?.textContent === txid, WAIT, manifest.final_txid);
    expect(await field("status", "state")).toBe("ok");
    expect(await field("status", "source")).toBe("r2://BUCKET/sample");
    expect(await field("status", "lag")).toMatch(/^\d+(\.\d)? (ms|s|min)$/);
    await page.waitForFunction(() => Number(document.getElementById("lag-plot")?.getAttribute("data-samples")) >= 1, WAIT);
    expect(await page.$$eval("#lag-plot circle", (c) => c.length)).toBeGreaterThanOrEqual(1);
    expect(await text("#lag-desc")).toMatch(/^\d+ samples? since .+; latest lag .+, highest .+\.$/);
  });

  test("a query renders the manifest's rows with its storage requests and cache hits", async () => {
    await setValue("#sql", USERS);
    await run(1);
    expectRows(await renderedRows(), expected(manifest.final_txid, USERS));
    expect(await page.$$eval("#rows thead th", (th) => th.map((t) => t.textContent))).toEqual(["id", "name", "email", "age", "score"]);
    expect(await field("meta", "txid_hex")).toBe(manifest.final_txid);
    expect(await field("meta", "served_from")).toBe("live");
    for (const name of ["storage_requests", "cache_hits", "isolate_hits"]) {
      expect(await field("meta", name), name).toMatch(/^\d+$/);
      expect(await text(`#log tbody tr:first-child [data-field="${name}"]`), name).toBe(await field("meta", name));
    }
    await shot("2-query");
  });

  test("parameters, run from the keyboard (Ctrl+Enter)", async () => {
    await setValue("#sql", BY_EMAIL.replace("'user7@example.com'", "?"));
    await setValue("#params", '["user7@example.com"]');
    await run(2, "keyboard");
    expectRows(await renderedRows(), expected(manifest.final_txid, BY_EMAIL));
    await setValue("#params", "");
  });

  test("time travel by TXID, then by the timestamp of that TXID", async () => {
    await setValue("#sql", USERS);
    await setValue("#txid", "0000000000000003");
    await run(3);
    expectRows(await renderedRows(), expected("0000000000000003", USERS));
    expect(await field("meta", "txid_hex")).toBe("0000000000000003");
    expect(await field("meta", "served_from")).toBe("time_travel");
    expect(await text("#log tbody tr:first-child td:nth-child(4)")).toBe("txid 0000000000000003");
    await shot("3-time-travel-txid");

    // The newest state whose transactions are all at or before TXID 3's own commit time is TXID 3.
    const at = await field("meta", "position_time");
    expect(at).toMatch(/^\d{4}-\d\d-\d\dT/);
    await setValue("#txid", "");
    await setValue("#timestamp", at);
    await run(4);
    expectRows(await renderedRows(), expected("0000000000000003", USERS));
    expect(await field("meta", "txid_hex")).toBe("0000000000000003");
    expect(await field("meta", "served_from")).toBe("time_travel");
    await setValue("#timestamp", "");
  });

  test("errors are shown with their code, and the previous rows stay", async () => {
    await setValue("#sql", "SELECT * FROM nope");
    await run(5, "click", "error");
    expect(await text("#error")).toMatch(/^SQL_\w+: .*no such table: nope/);
    expectRows(await renderedRows(), expected("0000000000000003", USERS));
    await setValue("#txid", "1");
    await setValue("#timestamp", "2026-11-26T09:40:50Z");
    await page.click("#run");
    await page.waitForFunction(() => (document.getElementById("error")?.textContent ?? "").includes("not both"), WAIT);
    await setValue("#timestamp", "");
    await setValue("#txid", "");
  });

  test("a cell with markup is shown as text, and the lag chart has several samples", async () => {
    await setValue("#sql", "SELECT '<img src=x onerror=alert(1)>' AS html, NULL AS nil, 9007199254740993 AS big, 1.0 AS one");
    await run(6);
    expect(await renderedRows()).toEqual([
      [
        { type: "text", text: "<img src=x onerror=alert(1)>" },
        { type: "null", text: "NULL" },
        // Every digit (beyond 2^53) and REAL stays REAL: the page keeps the JSON's source text.
        { type: "number", text: "9007199254740993" },
        { type: "number", text: "1.0" },
      ],
    ]);
    expect(await page.$$eval("#rows img", (i) => i.length)).toBe(0);
    // One sample on selection and one after each query so far.
    await page.waitForFunction(() => Number(document.getElementById("lag-plot")?.getAttribute("data-samples")) >= 3, WAIT);
    expect(await page.$$eval("#lag-plot polyline", (p) => p.length)).toBeGreaterThanOrEqual(1);
    await shot("4-status-and-chart");
  });

  test("forgetting the token clears it; nothing broke the page or its policy", async () => {
    await page.click("#token-forget");
    expect(await page.evaluate(() => sessionStorage.getItem("ltx-edge.console.token"))).toBeNull();
    expect(await page.$eval("#token", (e) => (e as HTMLInputElement).value)).toBe("");
    expect(pageErrors).toEqual([]);
    expect(await page.evaluate("window.__csp")).toEqual([]);
  });
});
