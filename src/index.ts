/**
 * ltx-edge Worker entry: the HTTP API and the per-database Durable Object.
 */
import { createApp } from "./app.ts";

export { DatabaseIndex } from "./durable/database-index.ts";

const app = createApp();

export default app satisfies ExportedHandler<Cloudflare.Env>;
