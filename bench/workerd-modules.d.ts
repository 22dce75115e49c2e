/**
 * The few workerd modules and types the workerd benchmarks (bench/*.workerd.ts)
 * use, declared for the Node typecheck of bench/ (tsconfig.node.json has no
 * workers types; the benches run in workerd, where the real ones are).
 */

/** The R2 binding as src/replica/r2.ts uses it. */
interface R2Range {
  offset?: number;
  length?: number;
  suffix?: number;
}
interface R2Object {
  key: string;
  size: number;
  etag: string;
  uploaded: Date;
  customMetadata?: Record<string, string>;
}
interface R2ObjectBody extends R2Object {
  arrayBuffer(): Promise<ArrayBuffer>;
}
interface R2Bucket {
  list(options: { prefix?: string; startAfter?: string; cursor?: string; limit?: number; include?: string[] }): Promise<{ objects: R2Object[]; truncated: boolean; cursor?: string }>;
  get(key: string, options?: { range?: R2Range }): Promise<R2ObjectBody | null>;
  head(key: string): Promise<R2Object | null>;
  put(key: string, value: Uint8Array | ReadableStream<Uint8Array>): Promise<unknown>;
  delete(key: string): Promise<void>;
}
declare module "cloudflare:workers" {
  import type { DbStatus, Freshness, RootPayload, RootRequest, RpcResult } from "../src/durable/protocol.ts";

  export interface BenchIndexStub {
    status(name: string): Promise<RpcResult<DbStatus>>;
    root(name: string, req: RootRequest): Promise<RpcResult<RootPayload>>;
    refresh(name: string): Promise<RpcResult<Freshness>>;
  }
  export interface BenchUploadedPart {
    partNumber: number;
    etag: string;
  }
  export const env: {
    BUCKET: R2Bucket & {
      createMultipartUpload(key: string): Promise<{
        uploadPart(part: number, value: Uint8Array | ReadableStream<Uint8Array>): Promise<BenchUploadedPart>;
        complete(parts: BenchUploadedPart[]): Promise<unknown>;
      }>;
    };
    DB_INDEX: { getByName(name: string): BenchIndexStub };
  };
  export const exports: { default: { fetch(req: Request): Promise<Response> } };
}

declare module "cloudflare:test" {
  export function runDurableObjectAlarm(stub: unknown): Promise<boolean>;
}
