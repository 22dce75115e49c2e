/**
 * @module
 * SigV4 signing of S3 requests (aws4fetch), and the encodings SigV4 wants:
 * the `x-amz-date` form and RFC 3986 URI encoding. Exported for known-answer
 * tests; {@link S3Store} (s3.ts) is the only caller in the product.
 */
import { AwsClient } from "aws4fetch";

/** Hex SHA-256 of the empty payload, sent as `x-amz-content-sha256` by body-less requests. */
export const EMPTY_PAYLOAD_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Credentials and scope for {@link createS3Signer}. */
export interface S3SignerConfig {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
}

/** One request to sign with {@link signS3Request}. */
export interface S3SignInput {
  method: string;
  /** Fully encoded URL; the path is the canonical URI and must already be URI-encoded. */
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array<ArrayBuffer>;
  /** Hex SHA-256 of the body ({@link EMPTY_PAYLOAD_SHA256} without one); always signed. */
  payloadHash: string;
  /** Fixed `x-amz-date` (`YYYYMMDDTHHMMSSZ`); defaults to now. */
  datetime?: string;
}

/** An aws4fetch client for service `s3`; it also caches derived signing keys. */
export function createS3Signer(config: S3SignerConfig): AwsClient {
  return new AwsClient({
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    ...(config.sessionToken !== undefined ? { sessionToken: config.sessionToken } : {}),
    region: config.region,
    service: "s3",
    // The store never uses AwsClient.fetch; retries are the caller's decision.
    retries: 0,
  });
}

/**
 * Signs one request exactly as {@link S3Store} does (exported for known-answer tests).
 * Every header we set is signed (`allHeaders`), so `Range` is covered as in AWS's own
 * examples; headers the runtime adds later (user-agent, content-length) are not.
 */
export async function signS3Request(signer: AwsClient, input: S3SignInput): Promise<Request> {
  const headers = new Headers(input.headers);
  headers.set("x-amz-content-sha256", input.payloadHash);
  return signer.sign(input.url, {
    method: input.method,
    headers,
    body: input.body ?? null,
    aws: { allHeaders: true, ...(input.datetime !== undefined ? { datetime: input.datetime } : {}) },
  });
}

/** Lower-case hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let out = "";
  for (const b of digest) out += b.toString(16).padStart(2, "0");
  return out;
}

/** SigV4 `x-amz-date` form of a date: `YYYYMMDDTHHMMSSZ`. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[:-]|\.\d{3}/g, "");
}

/** RFC 3986 encoding (encodeURIComponent leaves `!'()*` alone; SigV4 wants them escaped). */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
