/**
 * The few workerd modules bench/large.workerd.ts uses, declared for the
 * Node typecheck of bench/ (tsconfig.node.json has no workers types; the
 * bench runs in workerd, where the real modules are).
 */
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
    BUCKET: {
      put(key: string, value: Uint8Array | ReadableStream<Uint8Array>): Promise<unknown>;
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
