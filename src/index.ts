/**
 * ltx-edge Worker entry: the HTTP API, the per-database Durable Object, and
 * `LtxEdge`, the named entrypoint other Workers bind to (docs/d1.md).
 */
import { createApp } from "./app.ts";

export { DatabaseIndex } from "./durable/database-index.ts";
export { LtxEdge } from "./d1/entrypoint.ts";

const app = createApp();

export default app satisfies ExportedHandler<Cloudflare.Env>;
