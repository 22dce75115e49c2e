/**
 * @module
 * Executes one Hrana pipeline (`execute`, `batch` with conditions, `sequence`,
 * `describe`, `store_sql`, `close_sql`, `get_autocommit`, `close`) on one
 * snapshot.
 *
 * The pipeline is simulated against what is known of its statements'
 * outcomes: a statement not yet run is assumed to succeed and is collected.
 * All collected statements then run together in one engine call (usually the
 * only one), and the simulation repeats until nothing is left to run. Reads
 * have no side effects, so running a batch step whose condition later turns
 * out false costs only time; batch conditions, `is_autocommit` and the
 * transaction statements are evaluated in order, exactly as the client wrote
 * them. Transaction control never reaches SQLite: a transaction (of any
 * BEGIN mode) is the stream's pinned snapshot (see transaction.ts).
 */
import { ApiError, toApiError } from "../api/errors.ts";
import type { Limits } from "../api/limits.ts";
import type { SqlParam, StatementInput } from "../sql/types.ts";
import type { SqlError } from "../sql/errors.ts";
import { sqlTextProblem } from "../sql/text-guard.ts";
import { MAX_STORED_SQL, MAX_STORED_SQL_CHARS, type Pin, type StreamState, cloneState, decodeBaton, encodeBaton, newStreamState } from "../session/baton.ts";
import { type BatchCond, type StmtReq, type StreamRequest, maxReplicationIndex, parsePipeline } from "./protocol.ts";
import { type Outcome, type RunContext, SnapshotRunner, statementError } from "../session/snapshot.ts";
import { type Control, firstKeyword, parameterNames, parseControl, splitStatements } from "../session/sql-text.ts";
import { applyControl } from "../session/transaction.ts";
import { EMPTY_RESULT, paramFromHrana, stmtResultJson } from "./values.ts";

/** A statement outcome during simulation: "pending" has not run yet and is assumed to succeed. */
type Step = Outcome | "pending";

interface Work {
  key: string;
  input: StatementInput;
}

type Render = () => string;


function errorJson(e: ApiError): string {
  return `{"message":${JSON.stringify(e.message)},"code":${JSON.stringify(e.code)}}`;
}

const okResult = (response: string): string => `{"type":"ok","response":${response}}`;
const errorResult = (e: ApiError): string => `{"type":"error","error":${errorJson(e)}}`;
const fail = (code: string, message: string): Outcome => ({ ok: false, error: new ApiError(code, message) });
const CONTROL_OK: Outcome = { ok: true, result: EMPTY_RESULT, durationMs: 0 };

/** Hrana arguments as engine parameters (positional or named, not both). */
function paramsOf(s: StmtReq, limits: Limits): StatementInput["params"] {
  const n = s.args.length + s.namedArgs.length;
  if (n > limits.maxParams) throw new ApiError("TOO_MANY_PARAMS", `statement has ${n} arguments; the limit is ${limits.maxParams}`);
  if (s.args.length > 0 && s.namedArgs.length > 0) {
    throw new ApiError("SQL_BAD_PARAMS", "give positional args or named_args, not both");
  }
  if (s.args.length > 0) return s.args.map((v, i) => paramFromHrana(v, `args[${i}]`));
  if (s.namedArgs.length === 0) return undefined;
  const out: Record<string, SqlParam> = {};
  const bare = new Set<string>();
  for (const [i, a] of s.namedArgs.entries()) {
    const b = a.name.replace(/^[:@$]/, "");
    if (bare.has(b)) throw new ApiError("SQL_BAD_PARAMS", `named argument ${a.name} is given twice`);
    bare.add(b);
    out[a.name] = paramFromHrana(a.value, `named_args[${i}] (${a.name})`);
  }
  return out;
}

/** The request-level checks of the JSON API, per statement. */
function precheck(sql: string, limits: Limits): SqlError | null {
  return sqlTextProblem(sql, limits, "statement");
}

/**
 * Column names as the statement itself would name them: the subquery of the
 * describe wrapper makes repeated names unique as `name:N`.
 */
function unwrapNames(cols: string[]): string[] {
  const seen = new Set<string>();
  return cols.map((c) => {
    const m = /^(.*):\d+$/.exec(c);
    const name = m?.[1] !== undefined && seen.has(m[1]) ? m[1] : c;
    seen.add(name);
    return name;
  });
}

/** One pass over the pipeline with the outcomes known so far. */
class Simulation {
  readonly state: StreamState;
  closed = false;
  readonly pending: Work[] = [];
  /** Statements that need the engine (known or not): the pipeline's statement count. */
  engineStatements = 0;
  readonly results: Render[] = [];

  /** The snapshot of a transaction carried over from earlier pipelines: a newer replication_index cannot be served inside it. */
  private readonly txnPin: Pin | null;

  constructor(
    initial: StreamState,
    private readonly known: Map<string, Outcome>,
    private readonly poison: ApiError | null,
    private readonly limits: Limits,
    private readonly txid: () => number | null,
  ) {
    this.state = cloneState(initial);
    this.txnPin = initial.autocommit ? null : initial.pin;
  }

  private tooNew(index: number | null): ApiError | null {
    const pin = this.txnPin;
    if (index === null || pin === null || index <= pin.txid) return null;
    return new ApiError(
      "TXID_NOT_YET_AVAILABLE",
      `this stream's transaction reads the snapshot at replication index ${pin.txid}; replication_index ${index} is newer — commit or roll back, then read again`,
    );
  }

  run(requests: StreamRequest[]): void {
    requests.forEach((r, i) => {
      if (this.closed) {
        const e = new ApiError("STREAM_CLOSED", "the stream was closed by an earlier request of this pipeline", 400);
        this.results.push(() => errorResult(e));
        return;
      }
      try {
        this.results.push(this.request(r, i));
      } catch (e) {
        const err = toApiError(e);
        this.results.push(() => errorResult(err));
      }
    });
  }

  private request(r: StreamRequest, i: number): Render {
    switch (r.type) {
      case "close":
        this.closed = true;
        return () => okResult('{"type":"close"}');
      case "get_autocommit": {
        const a = this.state.autocommit;
        return () => okResult(`{"type":"get_autocommit","is_autocommit":${a}}`);
      }
      case "store_sql":
        return this.storeSql(r.sqlId, r.sql);
      case "close_sql":
        this.state.sqls.delete(r.sqlId);
        return () => okResult('{"type":"close_sql"}');
      case "execute": {
        const st = this.statement(r.stmt, `${i}`);
        if (st !== "pending" && !st.ok) return () => errorResult(st.error);
        const want = r.stmt.wantRows;
        return () => okResult(`{"type":"execute","result":${this.resultJson(st, want)}}`);
      }
      case "batch":
        return this.batch(r.steps, i, r.replicationIndex);
      case "sequence":
      case "describe": {
        const late = this.tooNew(r.replicationIndex);
        if (late) throw late;
        const sql = this.resolveSql(r.sql, r.sqlId);
        return r.type === "sequence" ? this.sequence(sql, i) : this.describe(sql, i);
      }
    }
  }

  private resultJson(st: Step, wantRows: boolean): string {
    const o = st === "pending" || !st.ok ? null : st;
    return stmtResultJson(o ? o.result : EMPTY_RESULT, wantRows, { txid: this.txid(), durationMs: o ? o.durationMs : 0 });
  }

  private resolveSql(sql: string | null, sqlId: number | null): string {
    if (sql !== null) return sql;
    const stored = this.state.sqls.get(sqlId as number);
    if (stored === undefined) throw new ApiError("BAD_REQUEST", `no SQL text with sql_id ${sqlId} is stored on this stream`);
    return stored;
  }

  private storeSql(id: number, sql: string): Render {
    const s = this.state;
    if (s.sqls.has(id)) throw new ApiError("BAD_REQUEST", `sql_id ${id} is already in use on this stream; close_sql it first`);
    if (s.sqls.size >= MAX_STORED_SQL) throw new ApiError("BAD_REQUEST", `a stream stores at most ${MAX_STORED_SQL} SQL texts`);
    const chars = [...s.sqls.values()].reduce((n, x) => n + x.length, 0);
    if (chars + sql.length > MAX_STORED_SQL_CHARS) {
      throw new ApiError("BAD_REQUEST", `a stream stores at most ${MAX_STORED_SQL_CHARS} characters of SQL (it travels in the baton)`);
    }
    const pre = precheck(sql, this.limits);
    if (pre) throw pre;
    s.sqls.set(id, sql);
    return () => okResult('{"type":"store_sql"}');
  }

  /** One statement of execute or batch; `outer` is the batch's replication_index. */
  private statement(s: StmtReq, key: string, outer: number | null = null): Step {
    const late = this.tooNew(s.replicationIndex) ?? this.tooNew(outer);
    if (late) return { ok: false, error: late };
    let sql: string;
    let params: StatementInput["params"];
    try {
      sql = this.resolveSql(s.sql, s.sqlId);
      params = paramsOf(s, this.limits);
    } catch (e) {
      return { ok: false, error: toApiError(e) };
    }
    return this.sql(sql, params, key);
  }

  /** Runs one SQL statement: transaction control here, everything else on the engine. */
  private sql(sql: string, params: StatementInput["params"], key: string): Step {
    const control = parseControl(sql);
    if (control) {
      const n = Array.isArray(params) ? params.length : params ? Object.keys(params).length : 0;
      if (n > 0) return fail("SQL_BAD_PARAMS", "transaction statements take no arguments");
      return this.control(control);
    }
    const pre = precheck(sql, this.limits);
    if (pre) return { ok: false, error: toApiError(pre) };
    if (splitStatements(sql).length === 0) return fail("SQL_SYNTAX", "no SQL statement to run");
    return this.engine(key, params === undefined ? { sql } : { sql, params });
  }

  private engine(key: string, input: StatementInput): Step {
    this.engineStatements++;
    const known = this.known.get(key);
    if (known) return known;
    if (this.poison) return { ok: false, error: this.poison };
    this.pending.push({ key, input });
    return "pending";
  }

  /** Transaction control: the stream's state changes, the engine is not involved. */
  private control(c: Control): Outcome {
    const err = applyControl(this.state, c);
    return err ? { ok: false, error: err } : CONTROL_OK;
  }

  private cond(c: BatchCond, steps: (Step | null)[]): boolean {
    switch (c.type) {
      case "ok": {
        const o = steps[c.step];
        return o !== null && o !== undefined && (o === "pending" || o.ok);
      }
      case "error": {
        const o = steps[c.step];
        return o !== null && o !== undefined && o !== "pending" && !o.ok;
      }
      case "not":
        return !this.cond(c.cond, steps);
      case "and":
        return c.conds.every((x) => this.cond(x, steps));
      case "or":
        return c.conds.some((x) => this.cond(x, steps));
      case "is_autocommit":
        return this.state.autocommit;
    }
  }

  private batch(steps: { condition: BatchCond | null; stmt: StmtReq }[], i: number, outer: number | null): Render {
    const done: (Step | null)[] = [];
    steps.forEach((step, j) => {
      done.push(step.condition === null || this.cond(step.condition, done) ? this.statement(step.stmt, `${i}.${j}`, outer) : null);
    });
    return () => {
      const results = done.map((o, j) => (o !== null && (o === "pending" || o.ok) ? this.resultJson(o, steps[j]?.stmt.wantRows ?? true) : "null"));
      const errors = done.map((o) => (o !== null && o !== "pending" && !o.ok ? errorJson(o.error) : "null"));
      const txid = this.txid();
      return okResult(
        `{"type":"batch","result":{"step_results":[${results.join(",")}],"step_errors":[${errors.join(",")}],"replication_index":${txid === null ? "null" : `"${txid}"`}}}`,
      );
    };
  }

  private sequence(sql: string, i: number): Render {
    for (const [k, part] of splitStatements(sql).entries()) {
      const st = this.sql(part.text, undefined, `${i}.${k}`);
      if (st !== "pending" && !st.ok) return () => errorResult(st.error);
    }
    return () => okResult('{"type":"sequence"}');
  }

  /**
   * Parameters come from SQLite's numbering rules; columns from preparing the
   * statement wrapped as `SELECT * FROM (…) LIMIT 0` (nothing is read beyond
   * the schema); validity and read-only-ness from preparing `EXPLAIN …`. The
   * engine has no prepare-only call, so columns are only described for
   * queries (SELECT, VALUES, WITH) and EXPLAIN.
   */
  private describe(sql: string, i: number): Render {
    const parts = splitStatements(sql);
    const first = parts[0];
    if (!first) throw new ApiError("SQL_SYNTAX", "no SQL statement to describe");
    if (parts.length > 1) throw new ApiError("SQL_MULTIPLE_STATEMENTS", "describe takes exactly one statement");
    const text = first.text;
    const render = (params: (string | null)[], cols: string[], isExplain: boolean, readonly: boolean): Render => () =>
      okResult(
        `{"type":"describe","result":{"params":[${params.map((p) => `{"name":${JSON.stringify(p)}}`).join(",")}],` +
          `"cols":[${cols.map((c) => `{"name":${JSON.stringify(c)},"decltype":null}`).join(",")}],"is_explain":${isExplain},"is_readonly":${readonly}}}`,
      );
    const control = parseControl(text);
    if (control) return render([], [], false, !(control.kind === "begin" && control.mode !== "deferred"));
    const names = parameterNames(text);
    if (names === null) throw new ApiError("SQL_SYNTAX", "a parameter number is outside ?1…?32766");
    const pre = precheck(text, this.limits);
    if (pre) throw pre;
    const nulls = names.map(() => null);
    const kw = firstKeyword(text);
    const explain = (): Step => this.engine(`${i}.x`, { sql: `EXPLAIN ${text}`, params: nulls });
    let st: Step;
    if (kw === "EXPLAIN") {
      st = this.engine(`${i}.d`, { sql: text, params: nulls });
    } else if (kw === "SELECT" || kw === "VALUES" || kw === "WITH") {
      st = this.engine(`${i}.d`, { sql: `SELECT * FROM (\n${text}\n) LIMIT 0`, params: nulls });
      if (st !== "pending" && !st.ok) {
        // WITH … INSERT and friends fail the wrapper with a syntax error; EXPLAIN names the real problem.
        const ex = explain();
        if (ex === "pending") return () => "";
        if (!ex.ok) throw ex.error;
      }
    } else {
      const ex = explain();
      if (ex !== "pending" && !ex.ok) throw ex.error;
      throw new ApiError("NOT_SUPPORTED", `describe reports the columns of SELECT, VALUES, WITH and EXPLAIN statements only; run this ${kw ?? "statement"} with execute`, 501);
    }
    if (st === "pending") return () => "";
    if (!st.ok) throw st.error;
    return render(names, kw === "EXPLAIN" ? st.result.columns : unwrapNames(st.result.columns), kw === "EXPLAIN", true);
  }
}

export interface PipelineResponse {
  /** JSON text of the PipelineRespBody. */
  text: string;
  /** The snapshot every statement read, or null when nothing needed one. */
  txid: number | null;
  runner: SnapshotRunner;
}

/**
 * Runs a pipeline body for database `db`. Structural problems throw (400);
 * everything else is answered per request, in Hrana's shape.
 */
export async function runPipeline(ctx: RunContext, body: unknown): Promise<PipelineResponse> {
  const db = ctx.cfg.name;
  const req = parsePipeline(body);
  const initial = req.baton === null ? newStreamState(db) : decodeBaton(req.baton, db);
  // Without an open transaction the snapshot is taken once for the whole pipeline: at least every index it names.
  const wanted = [initial.floor, maxReplicationIndex(req)].filter((x): x is number => x !== null);
  const minTxid = wanted.length > 0 ? Math.max(...wanted) : null;
  const runner = new SnapshotRunner(ctx, initial.autocommit ? null : initial.pin, minTxid);
  const known = new Map<string, Outcome>();
  let poison: ApiError | null = null;
  for (let round = 0; ; round++) {
    const sim = new Simulation(initial, known, poison, ctx.limits, () => runner.pin?.txid ?? null);
    sim.run(req.requests);
    if (sim.engineStatements > ctx.limits.maxStatements) {
      throw new ApiError("TOO_MANY_STATEMENTS", `pipeline has ${sim.engineStatements} statements; the limit is ${ctx.limits.maxStatements}`);
    }
    if (sim.pending.length === 0) return finish(sim, initial, runner);
    if (round > 2 * ctx.limits.maxStatements + 4) throw new ApiError("INTERNAL", "pipeline did not settle");
    let outcomes: Outcome[];
    try {
      outcomes = await runner.runAll(sim.pending.map((w) => w.input));
    } catch (e) {
      // The request itself failed (storage, waiting, snapshot gone): every statement still to run fails with it.
      poison = statementError(e);
      const err = poison;
      outcomes = sim.pending.map(() => ({ ok: false, error: err }));
    }
    sim.pending.forEach((w, j) => known.set(w.key, outcomes[j] as Outcome));
  }
}

function finish(sim: Simulation, initial: StreamState, runner: SnapshotRunner): PipelineResponse {
  const results = sim.results.map((r) => r());
  const pin: Pin | null = runner.pin;
  let baton: string | null = null;
  if (!sim.closed) {
    const s = sim.state;
    s.pin = s.autocommit ? null : pin;
    s.floor = pin && (initial.floor === null || pin.txid > initial.floor) ? pin.txid : initial.floor;
    s.seq = initial.seq + 1;
    baton = encodeBaton(s);
  }
  return {
    text: `{"baton":${baton === null ? "null" : JSON.stringify(baton)},"base_url":null,"results":[${results.join(",")}]}`,
    txid: pin?.txid ?? null,
    runner,
  };
}
