/**
 * @module
 * Bindings and variables of the Worker (see wrangler.toml).
 */
import type { DatabaseIndex } from "./durable/database-index.ts";
import type { ObserveBindings } from "./observe/request-log.ts";

export interface Env {
  /** The R2 bucket holding replicas (the default source). */
  BUCKET: R2Bucket;
  /** One Durable Object per database. */
  DB_INDEX: DurableObjectNamespace<DatabaseIndex>;
  /** Free-form label (wrangler.toml [vars]); auth does not depend on it. */
  ENVIRONMENT?: string;
}

/** Everything the HTTP layer reads from the environment: bindings, vars and secrets. */
export type ApiBindings = Env & {
  API_TOKEN?: string;
  ALLOW_UNAUTHENTICATED?: string;
  LIMITS?: unknown;
  DATABASES?: unknown;
  /** Comma-separated origins allowed by CORS ("*" for any); unset: no CORS headers. */
  CORS_ORIGINS?: string;
} & ObserveBindings;

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof import("./index.ts");
      durableNamespaces: "DatabaseIndex";
    }
    interface Env {
      BUCKET: R2Bucket;
      DB_INDEX: DurableObjectNamespace<DatabaseIndex>;
      ENVIRONMENT?: string;
    }
  }
}
