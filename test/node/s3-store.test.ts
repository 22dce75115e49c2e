/**
 * @module
 * S3Store against a real s3rver (child process, see test/support/s3-server.ts) and
 * against injected fetch functions for faults and URL construction.
 */

import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { S3Store, compareKeys, parseListObjectsV2, type S3Config } from "../../src/replica/s3.ts";
import { StorageError, type StorageErrorCode } from "../../src/replica/types.ts";
import { S3RVER_CREDENTIALS, startS3Server, type S3ServerHandle } from "../support/s3-server.ts";

const enc = new TextEncoder();
const BUCKET = "ltx";

let server: S3ServerHandle;

beforeAll(async () => {
  server = await startS3Server({ buckets: [BUCKET] });
});

afterAll(async () => {
  await server?.stop();
});

function store(extra: Partial<S3Config> = {}): S3Store {
  return new S3Store({ endpoint: server.endpoint, bucket: BUCKET, ...S3RVER_CREDENTIALS, ...extra });
}

/** Wraps the real fetch, recording every request the store sends. */
function recordingFetch(): { fetch: typeof fetch; requests: Request[] } {
  const requests: Request[] = [];
  const wrapped = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    if (input instanceof Request) requests.push(input.clone());
    return fetch(input, init);
  };
  return { fetch: wrapped, requests };
}

/** A fetch that answers every request itself, recording them. */
function fakeFetch(respond: (request: Request, init?: RequestInit) => Response | Promise<Response>): {
  fetch: typeof fetch;
  requests: Request[];
} {
  const requests: Request[] = [];
  const wrapped = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    requests.push(request);
    return respond(request, init);
  };
  return { fetch: wrapped, requests };
}

async function storageError(promise: Promise<unknown>, code: StorageErrorCode): Promise<StorageError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageError);
  const storage = error as StorageError;
  expect(storage.code).toBe(code);
  return storage;
}

/** `n` deterministic bytes, different per `seed`. */
function bytesOf(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

function ltxKey(level: number, min: number, max: number): string {
  const hex = (n: number) => n.toString(16).padStart(16, "0");
  return `db/${level.toString(16).padStart(4, "0")}/${hex(min)}-${hex(max)}.ltx`;
}

describe("S3Store against s3rver", () => {
  const data = bytesOf(5000);
  const key = "objects/data.bin";

  beforeAll(async () => {
    await store().put(key, data);
  });

  test("description names bucket and endpoint", () => {
    expect(store().description).toBe(`s3://${BUCKET} (${server.endpoint})`);
  });

  test("put then get returns the bytes, size and unquoted etag", async () => {
    const result = await store().get(key);
    expect(result.bytes).toEqual(data);
    expect(result.size).toBe(5000);
    expect(result.etag).toBe(md5Hex(data));
  });

  test("head returns size, etag and upload time; null for a missing key", async () => {
    const before = Date.now();
    await store().put("objects/fresh.bin", bytesOf(10));
    const head = await store().head("objects/fresh.bin");
    expect(head).toEqual({ key: "objects/fresh.bin", size: 10, etag: md5Hex(bytesOf(10)), uploaded: expect.any(Number) });
    // Last-Modified has one-second resolution.
    expect(head!.uploaded).toBeGreaterThan(before - 2000);
    expect(head!.uploaded).toBeLessThan(Date.now() + 2000);
    expect(await store().head("objects/missing.bin")).toBeNull();
  });

  test("getRange reads exactly the requested bytes", async () => {
    const mid = await store().getRange(key, 100, 250);
    expect(mid.bytes).toEqual(data.subarray(100, 350));
    expect(mid.size).toBe(5000);
    expect(mid.etag).toBe(md5Hex(data));
    const tail = await store().getRange(key, 4990, 10);
    expect(tail.bytes).toEqual(data.subarray(4990));
    const whole = await store().getRange(key, 0, 5000);
    expect(whole.bytes).toEqual(data);
  });

  test("getRange of a single leading byte works around s3rver's bytes=0-0 bug", async () => {
    const first = await store().getRange(key, 0, 1);
    expect(first.bytes).toEqual(data.subarray(0, 1));
    expect(first.size).toBe(5000);
  });

  test("getRange past the end is a bad response, not a short read", async () => {
    const past = await storageError(store().getRange(key, 4990, 20), "STORAGE_BAD_RESPONSE");
    expect(past.message).toContain("runs past the end");
    const beyond = await storageError(store().getRange(key, 6000, 10), "STORAGE_BAD_RESPONSE");
    expect(beyond.status).toBe(416);
    await expect(store().getRange(key, -1, 10)).rejects.toThrow(RangeError);
  });

  test("getRange with length 0 returns no bytes but the size", async () => {
    const empty = await store().getRange(key, 10, 0);
    expect(empty.bytes.length).toBe(0);
    expect(empty.size).toBe(5000);
  });

  test("getSuffix with a known size uses an explicit range", async () => {
    const { fetch, requests } = recordingFetch();
    const result = await store({ fetch }).getSuffix(key, 100, 5000);
    expect(result.bytes).toEqual(data.subarray(4900));
    expect(result.size).toBe(5000);
    expect(requests.map((r) => `${r.method} ${r.headers.get("range")}`)).toEqual(["GET bytes=4900-4999"]);
  });

  test("getSuffix without a size does HEAD then an explicit range", async () => {
    const { fetch, requests } = recordingFetch();
    const result = await store({ fetch }).getSuffix(key, 100);
    expect(result.bytes).toEqual(data.subarray(4900));
    expect(requests.map((r) => `${r.method} ${r.headers.get("range")}`)).toEqual(["HEAD null", "GET bytes=4900-4999"]);
  });

  test("getSuffix longer than the object returns the whole object", async () => {
    expect((await store().getSuffix(key, 10_000)).bytes).toEqual(data);
    expect((await store().getSuffix(key, 10_000, 5000)).bytes).toEqual(data);
    expect((await store().getSuffix(key, 5000, 5000)).bytes).toEqual(data);
  });

  test("getSuffix with a stale size fails instead of returning the wrong bytes", async () => {
    const error = await storageError(store().getSuffix(key, 100, 4000), "STORAGE_BAD_RESPONSE");
    expect(error.message).toContain("not its suffix");
    // A size that is too small but covers the suffix still yields only the last `length` bytes.
    expect((await store().getSuffix(key, 100, 50)).bytes).toEqual(data.subarray(4900));
  });

  test("missing keys map to STORAGE_NOT_FOUND with key and store in the message", async () => {
    const s = store();
    // Thunks: a promise created before the previous one is awaited could reject unobserved.
    const attempts = [() => s.get("nope/x.ltx"), () => s.getRange("nope/x.ltx", 0, 10), () => s.getSuffix("nope/x.ltx", 10), () => s.getSuffix("nope/x.ltx", 10, 100)];
    for (const attempt of attempts) {
      const error = await storageError(attempt(), "STORAGE_NOT_FOUND");
      expect(error.key).toBe("nope/x.ltx");
      expect(error.message).toContain('"nope/x.ltx"');
      expect(error.message).toContain(s.description);
    }
  });

  test("delete removes the object; deleting a missing key succeeds", async () => {
    await store().put("objects/doomed.bin", bytesOf(3));
    await store().delete("objects/doomed.bin");
    expect(await store().head("objects/doomed.bin")).toBeNull();
    await store().delete("objects/doomed.bin");
  });

  test("put overwrites and changes the etag", async () => {
    await store().put("objects/over.bin", bytesOf(8, 1));
    const first = await store().head("objects/over.bin");
    await store().put("objects/over.bin", bytesOf(8, 2));
    const second = await store().head("objects/over.bin");
    expect(second!.etag).not.toBe(first!.etag);
    expect((await store().get("objects/over.bin")).bytes).toEqual(bytesOf(8, 2));
  });

  test("put sends the body's SHA-256 as x-amz-content-sha256", async () => {
    const { fetch, requests } = recordingFetch();
    const body = bytesOf(77);
    await store({ fetch }).put("objects/hashed.bin", body);
    expect(requests[0]!.headers.get("x-amz-content-sha256")).toBe(createHash("sha256").update(body).digest("hex"));
    expect(requests[0]!.headers.get("authorization")).toContain("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date");
  });

  test("put copies the caller's view, including a subarray of a larger buffer", async () => {
    const big = bytesOf(100);
    await store().put("objects/view.bin", big.subarray(10, 20));
    expect((await store().get("objects/view.bin")).bytes).toEqual(big.subarray(10, 20));
  });

  test("keys with spaces, '+', and other reserved characters round-trip", async () => {
    const keys = ["odd/a b.ltx", "odd/a+b.ltx", "odd/x&y'z(1)*!.bin", "odd/100%.bin", "odd/é ü/日本.bin", "odd/semi;colon=eq?q#h.bin"];
    const { fetch, requests } = recordingFetch();
    const s = store({ fetch });
    for (const [i, k] of keys.entries()) await s.put(k, bytesOf(i + 1, i));
    for (const [i, k] of keys.entries()) {
      expect((await s.get(k)).bytes).toEqual(bytesOf(i + 1, i));
      expect((await s.head(k))?.size).toBe(i + 1);
    }
    const listed = await s.list("odd/");
    expect(listed.map((o) => o.key)).toEqual([...keys].sort(compareKeys));
    const putUrls = requests.filter((r) => r.method === "PUT").map((r) => r.url);
    expect(putUrls[0]).toBe(`${server.endpoint}/${BUCKET}/odd/a%20b.ltx`);
    expect(putUrls[1]).toBe(`${server.endpoint}/${BUCKET}/odd/a%2Bb.ltx`);
    expect(putUrls[2]).toBe(`${server.endpoint}/${BUCKET}/odd/x%26y%27z%281%29%2A%21.bin`);
    expect(putUrls[5]).toBe(`${server.endpoint}/${BUCKET}/odd/semi%3Bcolon%3Deq%3Fq%23h.bin`);
  });

  test("keys with '.' or '..' segments are refused rather than silently normalised", async () => {
    await storageError(store().get("db/../secret"), "STORAGE_ERROR");
    await storageError(store().head("./0000/x.ltx"), "STORAGE_ERROR");
  });
});

describe("S3Store.list against s3rver", () => {
  const keys: string[] = [];

  beforeAll(async () => {
    const s = store();
    for (let txid = 1; txid <= 12; txid++) keys.push(ltxKey(0, txid, txid));
    keys.push(ltxKey(1, 1, 6), ltxKey(1, 7, 12), ltxKey(9, 1, 12));
    // Put in a scrambled order: the listing order must not depend on upload order.
    for (const k of [...keys].reverse()) await s.put(k, enc.encode(k));
    await s.put("other/0000/0000000000000001-0000000000000001.ltx", enc.encode("x"));
  });

  test("lists a prefix in ascending key order with sizes and etags", async () => {
    const level0 = await store().list("db/0000/");
    expect(level0.map((o) => o.key)).toEqual(keys.slice(0, 12));
    for (const o of level0) {
      expect(o.size).toBe(enc.encode(o.key).length);
      expect(o.etag).toBe(md5Hex(enc.encode(o.key)));
      expect(o.uploaded).toBeGreaterThan(0);
    }
    expect((await store().list("db/")).map((o) => o.key)).toEqual([...keys].sort(compareKeys));
    expect(await store().list("db/0005/")).toEqual([]);
  });

  test("startAfter is exclusive", async () => {
    const after = await store().list("db/0000/", { startAfter: keys[4] });
    expect(after.map((o) => o.key)).toEqual(keys.slice(5, 12));
    expect(await store().list("db/0000/", { startAfter: keys[11] })).toEqual([]);
  });

  test("follows continuation tokens across pages", async () => {
    const { fetch, requests } = recordingFetch();
    const listed = await store({ fetch, pageSize: 5 }).list("db/0000/");
    expect(listed.map((o) => o.key)).toEqual(keys.slice(0, 12));
    const urls = requests.map((r) => new URL(r.url));
    expect(urls).toHaveLength(3);
    expect(urls[0]!.searchParams.get("max-keys")).toBe("5");
    expect(urls[0]!.searchParams.has("continuation-token")).toBe(false);
    expect(urls[1]!.searchParams.get("continuation-token")).toBeTruthy();
    expect(urls[2]!.searchParams.get("continuation-token")).toBeTruthy();
  });

  test("pagination combined with startAfter", async () => {
    const { fetch, requests } = recordingFetch();
    const listed = await store({ fetch, pageSize: 2 }).list("db/0000/", { startAfter: keys[6] });
    expect(listed.map((o) => o.key)).toEqual(keys.slice(7, 12));
    expect(requests).toHaveLength(3);
    expect(new URL(requests[0]!.url).searchParams.get("start-after")).toBe(keys[6]);
    expect(new URL(requests[1]!.url).searchParams.has("start-after")).toBe(false);
  });

  test("sends a canonical, %20-encoded query", async () => {
    const { fetch, requests } = recordingFetch();
    await store({ fetch }).list("a b+c/", { startAfter: "a b+c/x" });
    expect(requests[0]!.url).toBe(`${server.endpoint}/${BUCKET}?list-type=2&prefix=a%20b%2Bc%2F&start-after=a%20b%2Bc%2Fx`);
  });
});

describe("S3Store errors from s3rver", () => {
  test("a missing bucket is a configuration error, not a missing key", async () => {
    const s = store({ bucket: "no-such-bucket" });
    const error = await storageError(s.get("k"), "STORAGE_ERROR");
    expect(error.message).toContain("bucket does not exist");
    expect(error.message).toContain("s3://no-such-bucket");
    await storageError(s.list(""), "STORAGE_ERROR");
  });

  test("403 says access denied and names key and store", async () => {
    const s = store({ accessKeyId: "WRONG" });
    const error = await storageError(s.get("objects/data.bin"), "STORAGE_ERROR");
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/access denied.*InvalidAccessKeyId/);
    expect(error.message).toContain("check the access key");
    expect(error.message).toContain('"objects/data.bin"');
    expect(error.message).toContain(s.description);
  });

  test("an unreachable endpoint is a STORAGE_ERROR", async () => {
    const s = new S3Store({ endpoint: "http://127.0.0.1:9", bucket: BUCKET, ...S3RVER_CREDENTIALS, timeoutMs: 5000 });
    const error = await storageError(s.get("k"), "STORAGE_ERROR");
    expect(error.message).toContain("network error");
    expect(error.cause).toBeDefined();
  });
});

describe("S3Store faults via injected fetch", () => {
  const base = { endpoint: "http://127.0.0.1:1", bucket: "b", accessKeyId: "AK", secretAccessKey: "SK", region: "us-east-1" };

  test("a fetch that never resolves times out with STORAGE_TIMEOUT and aborts the signal", async () => {
    let signal: AbortSignal | undefined;
    const { fetch } = fakeFetch((_req, init) => {
      signal = init?.signal ?? undefined;
      return new Promise<Response>(() => {});
    });
    const s = new S3Store({ ...base, fetch, timeoutMs: 50 });
    // It ends (else the test would time out) with the configured limit in the message; how fast is not asserted.
    const error = await storageError(s.get("slow/key.ltx"), "STORAGE_TIMEOUT");
    expect(error.message).toContain('"slow/key.ltx"');
    expect(error.message).toContain("50 ms");
    expect(signal?.aborted).toBe(true);
  });

  test("a body that stalls after the headers also times out", async () => {
    const { fetch } = fakeFetch(() => new Response(new ReadableStream<Uint8Array>({ start() {} }), { status: 200 }));
    await storageError(new S3Store({ ...base, fetch, timeoutMs: 50 }).get("k"), "STORAGE_TIMEOUT");
  });

  test("a fetch that honours the abort signal also yields STORAGE_TIMEOUT", async () => {
    const { fetch } = fakeFetch(
      (_req, init) =>
        new Promise<Response>((_, reject) => {
          init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        }),
    );
    await storageError(new S3Store({ ...base, fetch, timeoutMs: 30 }).list("p/"), "STORAGE_TIMEOUT");
  });

  test("500 with an S3 error body names status and Code", async () => {
    const body = "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>";
    const { fetch, requests } = fakeFetch(() => new Response(body, { status: 500 }));
    const s = new S3Store({ ...base, fetch });
    const error = await storageError(s.getRange("db/0000/x.ltx", 0, 100), "STORAGE_ERROR");
    expect(error.status).toBe(500);
    expect(error.message).toContain("HTTP 500 InternalError");
    expect(error.message).toContain('"db/0000/x.ltx"');
    expect(error.message).toContain("s3://b (http://127.0.0.1:1)");
    expect(requests).toHaveLength(1); // no hidden retries
    await storageError(s.list("db/"), "STORAGE_ERROR");
    await storageError(s.put("k", bytesOf(1)), "STORAGE_ERROR");
    await storageError(s.delete("k"), "STORAGE_ERROR");
  });

  test("503 without a body still reports the status", async () => {
    const { fetch } = fakeFetch(() => new Response(null, { status: 503 }));
    const error = await storageError(new S3Store({ ...base, fetch }).head("k"), "STORAGE_ERROR");
    expect(error.message).toContain("HTTP 503");
  });

  test("a rejected fetch is a STORAGE_ERROR carrying the cause", async () => {
    const cause = new TypeError("fetch failed");
    const { fetch } = fakeFetch(() => Promise.reject(cause));
    const error = await storageError(new S3Store({ ...base, fetch }).get("k"), "STORAGE_ERROR");
    expect(error.cause).toBe(cause);
  });

  test("wrong-length and Range-ignoring responses are STORAGE_BAD_RESPONSE", async () => {
    const short = fakeFetch(() => new Response(bytesOf(5), { status: 206, headers: { "content-range": "bytes 10-14/100" } }));
    await storageError(new S3Store({ ...base, fetch: short.fetch }).getRange("k", 10, 10), "STORAGE_BAD_RESPONSE");
    const noRange = fakeFetch(() => new Response(bytesOf(10), { status: 206 }));
    await storageError(new S3Store({ ...base, fetch: noRange.fetch }).getRange("k", 10, 10), "STORAGE_BAD_RESPONSE");
    const ignored = fakeFetch(() => new Response(bytesOf(100), { status: 200 }));
    await storageError(new S3Store({ ...base, fetch: ignored.fetch }).getRange("k", 10, 10), "STORAGE_BAD_RESPONSE");
    // 200 is fine when the object is exactly the requested range.
    const exact = fakeFetch(() => new Response(bytesOf(10), { status: 200, headers: { etag: '"e"' } }));
    expect(await new S3Store({ ...base, fetch: exact.fetch }).getRange("k", 0, 10)).toEqual({ bytes: bytesOf(10), size: 10, etag: "e" });
  });

  test("a non-XML or truncated-without-token listing is STORAGE_BAD_RESPONSE", async () => {
    const html = fakeFetch(() => new Response("<html>captive portal</html>", { status: 200 }));
    await storageError(new S3Store({ ...base, fetch: html.fetch }).list(""), "STORAGE_BAD_RESPONSE");
    const noToken = fakeFetch(() => new Response("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", { status: 200 }));
    await storageError(new S3Store({ ...base, fetch: noToken.fetch }).list(""), "STORAGE_BAD_RESPONSE");
    const loop = fakeFetch(
      () =>
        new Response("<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>same</NextContinuationToken></ListBucketResult>", {
          status: 200,
        }),
    );
    await storageError(new S3Store({ ...base, fetch: loop.fetch }).list(""), "STORAGE_BAD_RESPONSE");
  });

  test("listing filters, dedupes and sorts what a sloppy server returns", async () => {
    const page = (keys: string[], token?: string) =>
      `<ListBucketResult>${keys.map((k) => `<Contents><Key>${k}</Key><Size>1</Size><ETag>"e"</ETag></Contents>`).join("")}` +
      `<IsTruncated>${token ? "true" : "false"}</IsTruncated>${token ? `<NextContinuationToken>${token}</NextContinuationToken>` : ""}</ListBucketResult>`;
    const { fetch } = fakeFetch((req) =>
      new URL(req.url).searchParams.has("continuation-token") ? new Response(page(["p/c", "p/b", "q/x"])) : new Response(page(["p/a", "p/d", "p/b"], "t1")),
    );
    const listed = await new S3Store({ ...base, fetch }).list("p/", { startAfter: "p/a" });
    expect(listed.map((o) => o.key)).toEqual(["p/b", "p/c", "p/d"]);
  });
});

describe("S3Store URL construction", () => {
  const creds = { accessKeyId: "AK", secretAccessKey: "SK" };
  const ok = () =>
    fakeFetch((req) =>
      req.method === "GET" && new URL(req.url).searchParams.has("list-type")
        ? new Response("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
        : new Response(bytesOf(4), { status: 206, headers: { "content-range": "bytes 0-3/4" } }),
    );

  async function urls(config: Omit<S3Config, "fetch" | "accessKeyId" | "secretAccessKey">): Promise<string[]> {
    const { fetch, requests } = ok();
    const s = new S3Store({ ...config, ...creds, fetch });
    await s.getRange("db/0000/a b+c.ltx", 0, 4);
    await s.list("db/");
    return requests.map((r) => r.url);
  }

  test("http endpoints default to path style", async () => {
    expect(await urls({ endpoint: "http://127.0.0.1:4569", region: "us-east-1", bucket: "bkt" })).toEqual([
      "http://127.0.0.1:4569/bkt/db/0000/a%20b%2Bc.ltx",
      "http://127.0.0.1:4569/bkt?list-type=2&prefix=db%2F",
    ]);
    expect(await urls({ endpoint: "http://minio.internal:9000/", region: "us-east-1", bucket: "bkt" })).toEqual([
      "http://minio.internal:9000/bkt/db/0000/a%20b%2Bc.ltx",
      "http://minio.internal:9000/bkt?list-type=2&prefix=db%2F",
    ]);
  });

  test("https endpoints default to virtual-host style", async () => {
    expect(await urls({ endpoint: "https://s3.us-east-1.amazonaws.com", region: "us-east-1", bucket: "bkt" })).toEqual([
      "https://bkt.s3.us-east-1.amazonaws.com/db/0000/a%20b%2Bc.ltx",
      "https://bkt.s3.us-east-1.amazonaws.com/?list-type=2&prefix=db%2F",
    ]);
  });

  test("R2 endpoints sign with region auto", async () => {
    const { fetch, requests } = ok();
    const s = new S3Store({ endpoint: "https://acct.r2.cloudflarestorage.com", region: "auto", bucket: "bkt", ...creds, fetch });
    await s.getRange("k", 0, 4);
    expect(requests[0]!.url).toBe("https://bkt.acct.r2.cloudflarestorage.com/k");
    expect(requests[0]!.headers.get("authorization")).toMatch(/Credential=AK\/\d{8}\/auto\/s3\/aws4_request/);
  });

  test("https IP endpoints, dotted bucket names and forcePathStyle select path style", async () => {
    expect((await urls({ endpoint: "https://10.0.0.5", region: "r", bucket: "bkt" }))[0]).toBe("https://10.0.0.5/bkt/db/0000/a%20b%2Bc.ltx");
    expect((await urls({ endpoint: "https://s3.example.com", region: "r", bucket: "my.bucket" }))[0]).toBe(
      "https://s3.example.com/my.bucket/db/0000/a%20b%2Bc.ltx",
    );
    expect(await urls({ endpoint: "https://s3.example.com/base/", region: "r", bucket: "bkt", forcePathStyle: true })).toEqual([
      "https://s3.example.com/base/bkt/db/0000/a%20b%2Bc.ltx",
      "https://s3.example.com/base/bkt?list-type=2&prefix=db%2F",
    ]);
    expect((await urls({ endpoint: "http://localhost:4569", region: "r", bucket: "bkt", forcePathStyle: false }))[0]).toBe(
      "http://bkt.localhost:4569/db/0000/a%20b%2Bc.ltx",
    );
  });

  test("invalid configuration is rejected up front", () => {
    const good = { endpoint: "https://s3.example.com", region: "r", bucket: "b", ...creds };
    expect(() => new S3Store({ ...good, endpoint: "s3.example.com" })).toThrow(TypeError);
    expect(() => new S3Store({ ...good, endpoint: "ftp://s3.example.com" })).toThrow(TypeError);
    expect(() => new S3Store({ ...good, bucket: "" })).toThrow(TypeError);
    expect(() => new S3Store({ ...good, region: "" })).toThrow(TypeError);
    expect(() => new S3Store({ ...good, pageSize: 0 })).toThrow(TypeError);
    expect(() => new S3Store({ ...good, timeoutMs: 0 })).toThrow(TypeError);
  });
});

describe("ListObjectsV2 parsing", () => {
  test("decodes entities and character references in keys, strips ETag quotes", () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <!-- <Contents><Key>commented/out</Key></Contents> -->
  <Contents>
    <Key>p/a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x4E2D;&#x1F600; &amp;lt;</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents><Key><![CDATA[p/raw <&> cdata]]></Key><LastModified>garbage</LastModified><ETag>"x"</ETag><Size>0</Size></Contents>
</ListBucketResult>`;
    expect(parseListObjectsV2(xml)).toEqual({
      objects: [
        { key: "p/a & b <c> \"d\" 'e' é中😀 &lt;", size: 434234, etag: "fba9dede5f27731c9771645a39863328", uploaded: Date.UTC(2009, 9, 12, 17, 50, 30) },
        { key: "p/raw <&> cdata", size: 0, etag: "x", uploaded: 0 },
      ],
      isTruncated: true,
      nextContinuationToken: "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
    });
  });

  test("ignores look-alike tags and self-closing empties", () => {
    const xml =
      "<ListBucketResult><Prefix/><KeyCount>1</KeyCount><IsTruncated>false</IsTruncated>" +
      "<Contents><Key>k</Key><Size>5</Size><ETag>e</ETag><Owner><ID>o</ID><DisplayName>d</DisplayName></Owner></Contents></ListBucketResult>";
    expect(parseListObjectsV2(xml)).toEqual({ objects: [{ key: "k", size: 5, etag: "e", uploaded: 0 }], isTruncated: false, nextContinuationToken: undefined });
  });

  test("rejects malformed documents", () => {
    expect(() => parseListObjectsV2("<Error><Code>x</Code></Error>")).toThrow(SyntaxError);
    expect(() => parseListObjectsV2("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>")).toThrow(SyntaxError);
    expect(() => parseListObjectsV2("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>")).toThrow(SyntaxError);
    expect(() => parseListObjectsV2("<ListBucketResult><Contents><Key>&bogus;</Key><Size>1</Size></Contents></ListBucketResult>")).toThrow(SyntaxError);
    expect(() => parseListObjectsV2("<ListBucketResult><Contents><Key>&#xD800;</Key><Size>1</Size></Contents></ListBucketResult>")).toThrow(SyntaxError);
  });

  test("compareKeys is UTF-8 byte order", () => {
    const keys = ["b", "a", "ab", "a/", "\u{1F600}", "\uFF21", "é"];
    expect([...keys].sort(compareKeys)).toEqual(["a", "a/", "ab", "b", "é", "\uFF21", "\u{1F600}"]);
    const bytes = (s: string) => Array.from(enc.encode(s));
    const byBytes = [...keys].sort((x, y) => {
      const [a, b] = [bytes(x), bytes(y)];
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return a.length - b.length;
    });
    expect([...keys].sort(compareKeys)).toEqual(byBytes);
  });
});
