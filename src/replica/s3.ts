/**
 * @module
 * S3-compatible object store over HTTP (AWS S3, R2's S3 API, MinIO, Tigris,
 * s3rver, …) signed with SigV4 via aws4fetch. It only uses `fetch`,
 * `crypto.subtle`, timers and string handling, so it runs unchanged in
 * Cloudflare workerd and in Node 20. Listing XML is parsed with a small tag
 * extractor because workerd has no DOMParser.
 */

import type { AwsClient } from "aws4fetch";
import { EMPTY_PAYLOAD_SHA256, amzDate, createS3Signer, sha256Hex, signS3Request, uriEncode } from "./s3-sign.ts";
import { type ListPage, compareKeys, parseErrorBody, parseListObjectsV2, stripQuotes } from "./s3-xml.ts";
import { StorageError, type RangeResult, type StoredObject, type WritableObjectStore } from "./types.ts";

export { EMPTY_PAYLOAD_SHA256, createS3Signer, sha256Hex, signS3Request, type S3SignInput, type S3SignerConfig } from "./s3-sign.ts";
export { compareKeys, decodeXmlText, parseListObjectsV2, type ListPage } from "./s3-xml.ts";

const DEFAULT_TIMEOUT_MS = 10_000;

export interface S3Config {
  /** e.g. `https://s3.us-east-1.amazonaws.com`, `http://127.0.0.1:4569`, or an R2 S3 endpoint. */
  endpoint: string;
  /** Signing region, used as given (`auto` for R2). */
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /**
   * `https://host/bucket/key` instead of `https://bucket.host/key`. Defaults to true for
   * `http://`, IP-address and `localhost` endpoints, and for bucket names that are not a
   * single DNS label (dots would break TLS wildcard certificates); false otherwise.
   */
  forcePathStyle?: boolean;
  /** Per-request deadline covering the response body too; default 10 000 ms. */
  timeoutMs?: number;
  /** Injectable for fault-injection tests; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** ListObjectsV2 `max-keys` (1–1000); unset lets the server choose (1000 on S3). */
  pageSize?: number;
  /** Clock used for `x-amz-date`; injectable so signatures are reproducible in tests. */
  now?: () => Date;
}


function parseContentRange(value: string | null): { start: number; end: number; total: number } | undefined {
  const m = value === null ? null : /^\s*bytes\s+(\d+)-(\d+)\/(\d+)\s*$/i.exec(value);
  if (!m) return undefined;
  const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!(end >= start && total > end)) return undefined;
  return { start, end, total };
}

function isNonNegativeInteger(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** A fully read HTTP response. */
interface HttpResult {
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** What a request is doing, for error messages: `GET "key"` or `LIST prefix "p/"`. */
interface Operation {
  name: string;
  /** Object key, or the list prefix. */
  key: string;
  isPrefix?: boolean;
}

export class S3Store implements WritableObjectStore {
  readonly description: string;
  private readonly signer: AwsClient;
  private readonly fetchFn: (request: Request, init: RequestInit) => Promise<Response>;
  private readonly timeoutMs: number;
  private readonly pageSize: number | undefined;
  private readonly now: () => Date;
  /** Everything before the encoded key, ending in "/": `http://h:p/bucket/` or `https://bucket.h/`. */
  private readonly objectBase: string;
  /** The bucket resource for listings, without a trailing slash in path style (as AWS SDKs send it). */
  private readonly bucketUrl: string;

  constructor(config: S3Config) {
    let endpoint: URL;
    try {
      endpoint = new URL(config.endpoint);
    } catch (cause) {
      throw new TypeError(`S3 endpoint ${JSON.stringify(config.endpoint)} is not a URL`, { cause });
    }
    if (endpoint.protocol !== "http:" && endpoint.protocol !== "https:") {
      throw new TypeError(`S3 endpoint ${config.endpoint} must be http:// or https://`);
    }
    if (endpoint.search !== "" || endpoint.hash !== "" || endpoint.username !== "" || endpoint.password !== "") {
      throw new TypeError(`S3 endpoint ${config.endpoint} must not carry credentials, a query or a fragment`);
    }
    if (config.bucket === "" || config.bucket.includes("/")) {
      throw new TypeError(`S3 bucket name ${JSON.stringify(config.bucket)} is invalid`);
    }
    if (config.region === "") throw new TypeError("S3 region must not be empty (use \"auto\" for R2)");
    const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new TypeError(`S3 timeoutMs must be positive, got ${timeoutMs}`);
    if (config.pageSize !== undefined && !(Number.isInteger(config.pageSize) && config.pageSize >= 1 && config.pageSize <= 1000)) {
      throw new TypeError(`S3 pageSize must be an integer in 1..1000, got ${config.pageSize}`);
    }

    const basePath = endpoint.pathname.replace(/\/+$/, "");
    const host = endpoint.hostname;
    const pathStyle =
      config.forcePathStyle ??
      (endpoint.protocol === "http:" ||
        host === "localhost" ||
        host.startsWith("[") ||
        /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ||
        !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(config.bucket));
    if (pathStyle) {
      this.bucketUrl = `${endpoint.origin}${basePath}/${uriEncode(config.bucket)}`;
      this.objectBase = `${this.bucketUrl}/`;
    } else {
      this.bucketUrl = `${endpoint.protocol}//${config.bucket}.${endpoint.host}${basePath}/`;
      this.objectBase = this.bucketUrl;
    }

    this.description = `s3://${config.bucket} (${endpoint.origin}${basePath})`;
    this.signer = createS3Signer(config);
    const injected = config.fetch;
    // Never call a detached `fetch`: workerd throws "Illegal invocation" unless `this` is the global.
    this.fetchFn = injected ? (request, init) => injected(request, init) : (request, init) => globalThis.fetch(request, init);
    this.timeoutMs = timeoutMs;
    this.pageSize = config.pageSize;
    this.now = config.now ?? (() => new Date());
  }

  async list(prefix: string, options: { startAfter?: string } = {}): Promise<StoredObject[]> {
    const op: Operation = { name: "LIST", key: prefix, isPrefix: true };
    const { startAfter } = options;
    const byKey = new Map<string, StoredObject>();
    const seenTokens = new Set<string>();
    let token: string | undefined;
    do {
      const query: Record<string, string> = { "list-type": "2" };
      if (prefix !== "") query["prefix"] = prefix;
      // S3 ignores start-after once a continuation token is sent; the token already encodes it.
      if (token !== undefined) query["continuation-token"] = token;
      else if (startAfter !== undefined && startAfter !== "") query["start-after"] = startAfter;
      if (this.pageSize !== undefined) query["max-keys"] = String(this.pageSize);

      const res = await this.send(op, "GET", this.bucketUrl + queryString(query));
      if (res.status !== 200) throw this.errorFor(op, res);
      let page: ListPage;
      try {
        page = parseListObjectsV2(new TextDecoder().decode(res.body));
      } catch (cause) {
        throw this.badResponse(op, `unparseable ListObjectsV2 response (${(cause as Error).message})`, res.status, cause);
      }
      // Filter client-side too: some S3-compatible servers ignore prefix or start-after.
      for (const object of page.objects) {
        if (!object.key.startsWith(prefix)) continue;
        if (startAfter !== undefined && compareKeys(object.key, startAfter) <= 0) continue;
        byKey.set(object.key, object);
      }
      if (!page.isTruncated) break;
      token = page.nextContinuationToken;
      if (token === undefined) throw this.badResponse(op, "truncated listing without NextContinuationToken", res.status);
      if (seenTokens.has(token)) throw this.badResponse(op, "listing repeated a continuation token", res.status);
      seenTokens.add(token);
    } while (token !== undefined);
    // Sorted here because not every server returns byte order (s3rver walks directories).
    return [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
  }

  async getRange(key: string, offset: number, length: number): Promise<RangeResult> {
    if (!isNonNegativeInteger(offset) || !isNonNegativeInteger(length)) {
      throw new RangeError(`getRange(${JSON.stringify(key)}, ${offset}, ${length}): offset and length must be non-negative integers`);
    }
    const op: Operation = { name: "GET", key };
    if (length === 0) {
      const head = await this.head(key);
      if (head === null) throw this.notFound(op, 404);
      return { bytes: new Uint8Array(0), size: head.size, etag: head.etag };
    }
    const last = offset + length - 1;
    const res = await this.send(op, "GET", this.objectUrl(op), { range: `bytes=${offset}-${last}` });
    const etag = stripQuotes(res.headers.get("etag") ?? "");
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get("content-range"));
      if (range === undefined) {
        throw this.badResponse(op, `206 with unusable Content-Range ${JSON.stringify(res.headers.get("content-range"))}`, 206);
      }
      // A covering range is accepted and trimmed: s3rver answers `bytes=0-0` with the whole object.
      if (range.start > offset || range.end < last || res.body.length !== range.end - range.start + 1) {
        throw this.badResponse(
          op,
          `asked for bytes ${offset}-${last}, got Content-Range bytes ${range.start}-${range.end}/${range.total} with ${res.body.length} bytes` +
            (range.end < last && range.end + 1 === range.total ? " (range runs past the end of the object)" : ""),
          206,
        );
      }
      const bytes = range.start === offset && range.end === last ? res.body : res.body.subarray(offset - range.start, offset - range.start + length);
      return { bytes, size: range.total, etag };
    }
    if (res.status === 200) {
      if (offset === 0 && res.body.length === length) return { bytes: res.body, size: length, etag };
      throw this.badResponse(op, `asked for bytes ${offset}-${last}, got 200 with the whole ${res.body.length}-byte object (Range ignored?)`, 200);
    }
    if (res.status === 416) throw this.badResponse(op, `bytes ${offset}-${last} lie beyond the end of the object (416)`, 416);
    throw this.errorFor(op, res);
  }

  async getSuffix(key: string, length: number, size?: number): Promise<RangeResult> {
    if (!isNonNegativeInteger(length) || (size !== undefined && !isNonNegativeInteger(size))) {
      throw new RangeError(`getSuffix(${JSON.stringify(key)}, ${length}, ${size}): length and size must be non-negative integers`);
    }
    const op: Operation = { name: "GET", key };
    // Never `Range: bytes=-N`: s3rver serves N+1 bytes from the start for it. An explicit
    // range needs the size, hence the HEAD when the caller does not know it.
    let known = size;
    if (known === undefined) {
      const head = await this.head(key);
      if (head === null) throw this.notFound(op, 404);
      known = head.size;
    }
    if (length >= known) {
      const whole = await this.get(key);
      // The object may have grown since `size` was measured; still honour "last length bytes".
      if (whole.bytes.length <= length) return whole;
      return { ...whole, bytes: whole.bytes.subarray(whole.bytes.length - length) };
    }
    const result = await this.getRange(key, known - length, length);
    if (result.size !== known) {
      throw this.badResponse(op, `expected a ${known}-byte object but it has ${result.size} bytes, so bytes ${known - length}.. are not its suffix`, 206);
    }
    return result;
  }

  async get(key: string): Promise<RangeResult> {
    const op: Operation = { name: "GET", key };
    const res = await this.send(op, "GET", this.objectUrl(op));
    if (res.status !== 200) throw this.errorFor(op, res);
    return { bytes: res.body, size: res.body.length, etag: stripQuotes(res.headers.get("etag") ?? "") };
  }

  async head(key: string): Promise<StoredObject | null> {
    const op: Operation = { name: "HEAD", key };
    const res = await this.send(op, "HEAD", this.objectUrl(op));
    if (res.status === 404) return null;
    if (res.status !== 200) throw this.errorFor(op, res);
    const lengthText = res.headers.get("content-length");
    const size = lengthText !== null && /^\d+$/.test(lengthText.trim()) ? Number(lengthText) : NaN;
    if (!Number.isSafeInteger(size)) throw this.badResponse(op, `HEAD without a usable Content-Length (${JSON.stringify(lengthText)})`, 200);
    const lastModified = res.headers.get("last-modified");
    const uploaded = lastModified === null ? NaN : Date.parse(lastModified);
    return { key, size, etag: stripQuotes(res.headers.get("etag") ?? ""), uploaded: Number.isFinite(uploaded) ? uploaded : 0 };
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const op: Operation = { name: "PUT", key };
    // Copy: the body must not change while it is hashed and sent, and fetch wants an ArrayBuffer-backed view.
    const body = new Uint8Array(bytes);
    const res = await this.send(op, "PUT", this.objectUrl(op), { "content-type": "application/octet-stream" }, body);
    if (res.status !== 200 && res.status !== 201 && res.status !== 204) throw this.errorFor(op, res);
  }

  async delete(key: string): Promise<void> {
    const op: Operation = { name: "DELETE", key };
    const res = await this.send(op, "DELETE", this.objectUrl(op));
    if (res.status === 200 || res.status === 204) return;
    // Deleting a missing key succeeds on S3; servers that say NoSuchKey get the same treatment.
    if (res.status === 404 && parseErrorBody(res.body).code !== "NoSuchBucket") return;
    throw this.errorFor(op, res);
  }

  /** URL of an object, each key segment URI-encoded with "/" kept. */
  private objectUrl(op: Operation): string {
    if (op.key === "") throw new StorageError("STORAGE_ERROR", `S3 ${op.name} on ${this.description}: empty key`, { key: op.key });
    const segments = op.key.split("/");
    // The URL parser would collapse these (even when percent-encoded), silently addressing another key.
    if (segments.some((s) => s === "." || s === "..")) {
      throw new StorageError(
        "STORAGE_ERROR",
        `S3 ${op.name} ${JSON.stringify(op.key)} on ${this.description}: keys with "." or ".." path segments cannot be addressed over HTTP`,
        { key: op.key },
      );
    }
    return this.objectBase + segments.map(uriEncode).join("/");
  }

  /** Signs and sends one request and reads the whole body, all within the timeout. */
  private async send(
    op: Operation,
    method: string,
    url: string,
    headers: Record<string, string> = {},
    body?: Uint8Array<ArrayBuffer>,
  ): Promise<HttpResult> {
    const request = await signS3Request(this.signer, {
      method,
      url,
      headers,
      ...(body !== undefined ? { body } : {}),
      payloadHash: body !== undefined ? await sha256Hex(body) : EMPTY_PAYLOAD_SHA256,
      datetime: amzDate(this.now()),
    });
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Racing as well as aborting: an injected or misbehaving fetch may ignore the signal.
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(
          new StorageError("STORAGE_TIMEOUT", `${this.label(op)}: no complete response within ${this.timeoutMs} ms`, { key: op.key }),
        );
      }, this.timeoutMs);
    });
    const exchange = (async (): Promise<HttpResult> => {
      try {
        const res = await this.fetchFn(request, { signal: controller.signal });
        const bytes = new Uint8Array(await res.arrayBuffer());
        return { status: res.status, headers: res.headers, body: bytes };
      } catch (cause) {
        if (controller.signal.aborted) {
          throw new StorageError("STORAGE_TIMEOUT", `${this.label(op)}: no complete response within ${this.timeoutMs} ms`, { key: op.key, cause });
        }
        throw new StorageError("STORAGE_ERROR", `${this.label(op)}: network error: ${(cause as Error)?.message ?? String(cause)}`, {
          key: op.key,
          cause,
        });
      }
    })();
    try {
      return await Promise.race([exchange, deadline]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  private label(op: Operation): string {
    return `S3 ${op.name} ${op.isPrefix ? "prefix " : ""}${JSON.stringify(op.key)} on ${this.description}`;
  }

  private notFound(op: Operation, status: number, code?: string): StorageError {
    return new StorageError("STORAGE_NOT_FOUND", `${this.label(op)}: not found (${status}${code ? ` ${code}` : ""})`, { key: op.key, status });
  }

  private badResponse(op: Operation, detail: string, status: number, cause?: unknown): StorageError {
    return new StorageError("STORAGE_BAD_RESPONSE", `${this.label(op)}: ${detail}`, {
      key: op.key,
      status,
      ...(cause !== undefined ? { cause } : {}),
    });
  }

  /** Maps an unexpected status to a StorageError, naming S3's error code when the body has one. */
  private errorFor(op: Operation, res: HttpResult): StorageError {
    const { code, message } = parseErrorBody(res.body);
    const opts = { key: op.key, status: res.status };
    if (res.status === 404 && code === "NoSuchBucket") {
      // Not STORAGE_NOT_FOUND: that means "this key is gone", and a missing bucket is a configuration error.
      return new StorageError("STORAGE_ERROR", `${this.label(op)}: the bucket does not exist (404 NoSuchBucket)`, opts);
    }
    if (res.status === 404) return this.notFound(op, 404, code);
    if (res.status === 403) {
      return new StorageError(
        "STORAGE_ERROR",
        `${this.label(op)}: access denied (403${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}); check the access key, secret, region and bucket permissions`,
        opts,
      );
    }
    const detail = code ? ` ${code}${message ? `: ${message}` : ""}` : "";
    return new StorageError("STORAGE_ERROR", `${this.label(op)}: HTTP ${res.status}${detail}`, opts);
  }
}

/** Query string in SigV4 canonical form (sorted, RFC 3986), so what is sent is what is signed. */
function queryString(params: Record<string, string>): string {
  const pairs = Object.entries(params)
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}`;
}
