/**
 * @module
 * `LtxEdge`: the named entrypoint other Workers bind to read replicas the
 * way they read D1 (with `createD1` from `ltx-edge/d1`):
 *
 * ```toml
 * [[services]]
 * binding = "LTX"
 * service = "ltx-edge"
 * entrypoint = "LtxEdge"
 * ```
 *
 * One RPC per `all()`/`first()`/`raw()`/`run()` or `batch()`. A service
 * binding is internal: only Workers the deployer binds can call it, so it
 * bypasses the HTTP API's tokens (API_TOKEN, per-database token_secret); the
 * limits of the deployment (LIMITS) apply as they do over HTTP.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import type { ApiBindings } from "../env.ts";
import { ApiError, toApiError } from "../api/errors.ts";
import { limitsFor } from "../api/limits.ts";
import { requireDatabase } from "../query/databases.ts";
import { runD1 } from "./run.ts";
import type { D1WireOptions, D1WireReply, LtxEdgeRpc } from "./wire.ts";

export class LtxEdge extends WorkerEntrypoint<ApiBindings> implements LtxEdgeRpc {
  /**
   * Runs `statements` on one snapshot of database `db` and answers in the
   * shape `createD1` turns into D1 results. Never throws: failures come back
   * as `{success: false, error: {code, message, statementIndex}}`.
   */
  async query(db: string, statements: unknown, options?: D1WireOptions): Promise<D1WireReply> {
    try {
      if (typeof db !== "string") throw new ApiError("BAD_REQUEST", "the database name must be a string");
      const limits = limitsFor(this.env);
      const cfg = await requireDatabase(this.env, db);
      const ctx = { env: this.env, cfg, limits, waitUntil: (p: Promise<unknown>) => this.ctx.waitUntil(p) };
      return await runD1(ctx, statements, options);
    } catch (e) {
      const err = toApiError(e);
      return { success: false, error: { code: err.code, message: err.message, statementIndex: null } };
    }
  }
}
