/**
 * @module
 * The newest TXID in storage, for `withSession("first-primary")`: a replica
 * has no primary to ask, so the nearest thing is the replica itself, polled
 * now by the database's Durable Object. The session's first call then reads
 * at least that TXID (the ordinary min_txid wait), never an older copy an
 * isolate may hold.
 */
import { unwrap } from "../durable/client.ts";
import type { Env } from "../env.ts";
import { guardRpc, RPC_TIMEOUT_MS } from "../query/live-index.ts";
import type { DatabaseRpc } from "../query/service.ts";

/** Polls the replica through the database's Durable Object and returns the TXID it reached. */
export async function newestTxid(env: Env, name: string): Promise<number> {
  const stub: DatabaseRpc = env.DB_INDEX.getByName(name);
  unwrap(await guardRpc(stub.refresh(name), RPC_TIMEOUT_MS, name));
  // Already there: waitFor answers with the position at once, without another poll.
  const position = unwrap(await guardRpc(stub.waitFor(name, 1, 0), RPC_TIMEOUT_MS, name));
  return position.txid;
}
