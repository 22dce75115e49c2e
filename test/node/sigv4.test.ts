/**
 * @module
 * SigV4 known-answer tests. s3rver accepts any signature, so these are the only check
 * that S3Store signs correctly. Vectors: the examples in AWS's S3 API reference,
 * "Signature Calculations for the Authorization Header: Transferring Payload in a
 * Single Chunk" (credentials AKIAIOSFODNN7EXAMPLE, bucket examplebucket, us-east-1,
 * 20130524T000000Z).
 */

import { describe, expect, test } from "vitest";
import { EMPTY_PAYLOAD_SHA256, S3Store, createS3Signer, sha256Hex, signS3Request } from "../../src/replica/s3.ts";

const ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const DATETIME = "20130524T000000Z";
const NOW = new Date(Date.UTC(2013, 4, 24, 0, 0, 0));
const HOST = "https://examplebucket.s3.amazonaws.com";

const signer = () => createS3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET, region: "us-east-1" });

function authParts(request: Request): { credential: string; signedHeaders: string; signature: string } {
  const auth = request.headers.get("authorization") ?? "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) throw new Error(`unexpected Authorization header: ${auth}`);
  return { credential: m[1]!, signedHeaders: m[2]!, signature: m[3]! };
}

describe("AWS S3 SigV4 examples", () => {
  test("GET Object (Range: bytes=0-9), driven through S3Store.getRange", async () => {
    const requests: Request[] = [];
    const fetch = async (input: RequestInfo | URL): Promise<Response> => {
      if (!(input instanceof Request)) throw new Error("expected a Request");
      requests.push(input);
      return new Response("0123456789", { status: 206, headers: { "content-range": "bytes 0-9/100", etag: '"abc"' } });
    };
    const store = new S3Store({
      endpoint: "https://s3.amazonaws.com",
      region: "us-east-1",
      bucket: "examplebucket",
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET,
      fetch,
      now: () => NOW,
    });
    const result = await store.getRange("test.txt", 0, 10);
    expect(result).toEqual({ bytes: new TextEncoder().encode("0123456789"), size: 100, etag: "abc" });

    const [request] = requests;
    expect(request!.url).toBe(`${HOST}/test.txt`);
    expect(request!.headers.get("range")).toBe("bytes=0-9");
    expect(request!.headers.get("x-amz-content-sha256")).toBe(EMPTY_PAYLOAD_SHA256);
    expect(request!.headers.get("x-amz-date")).toBe(DATETIME);
    expect(authParts(request!)).toEqual({
      credential: `${ACCESS_KEY}/20130524/us-east-1/s3/aws4_request`,
      signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
      signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    });
  });

  test("GET Bucket (List Objects) ?max-keys=2&prefix=J", async () => {
    const request = await signS3Request(signer(), {
      method: "GET",
      url: `${HOST}/?max-keys=2&prefix=J`,
      payloadHash: EMPTY_PAYLOAD_SHA256,
      datetime: DATETIME,
    });
    expect(authParts(request)).toEqual({
      credential: `${ACCESS_KEY}/20130524/us-east-1/s3/aws4_request`,
      signedHeaders: "host;x-amz-content-sha256;x-amz-date",
      signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    });
  });

  test("GET Bucket Lifecycle ?lifecycle (a query key without a value)", async () => {
    const request = await signS3Request(signer(), {
      method: "GET",
      url: `${HOST}/?lifecycle`,
      payloadHash: EMPTY_PAYLOAD_SHA256,
      datetime: DATETIME,
    });
    expect(authParts(request).signature).toBe("fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  });

  test("PUT Object test$file.text with a signed payload and extra headers", async () => {
    const body = new TextEncoder().encode("Welcome to Amazon S3.");
    const payloadHash = await sha256Hex(body);
    expect(payloadHash).toBe("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    const request = await signS3Request(signer(), {
      method: "PUT",
      // The store's key encoding: "$" becomes %24, as in the canonical URI of the example.
      url: `${HOST}/test%24file.text`,
      headers: { date: "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY" },
      body,
      payloadHash,
      datetime: DATETIME,
    });
    expect(authParts(request)).toEqual({
      credential: `${ACCESS_KEY}/20130524/us-east-1/s3/aws4_request`,
      signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
      signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    });
    expect(new Uint8Array(await request.arrayBuffer())).toEqual(body);
  });

  test("S3Store encodes the example's key the way the vector signs it", async () => {
    const urls: string[] = [];
    const fetch = async (input: RequestInfo | URL): Promise<Response> => {
      urls.push(input instanceof Request ? input.url : String(input));
      return new Response(null, { status: 200 });
    };
    const store = new S3Store({ endpoint: "https://s3.amazonaws.com", region: "us-east-1", bucket: "examplebucket", accessKeyId: ACCESS_KEY, secretAccessKey: SECRET, fetch });
    await store.put("test$file.text", new TextEncoder().encode("Welcome to Amazon S3."));
    expect(urls).toEqual([`${HOST}/test%24file.text`]);
  });
});

describe("signing details", () => {
  test("the signature depends on the secret (s3rver would not notice)", async () => {
    const input = { method: "GET", url: `${HOST}/test.txt`, headers: { range: "bytes=0-9" }, payloadHash: EMPTY_PAYLOAD_SHA256, datetime: DATETIME };
    const good = authParts(await signS3Request(signer(), input)).signature;
    const bad = authParts(await signS3Request(createS3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: "other", region: "us-east-1" }), input)).signature;
    expect(good).toBe("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    expect(bad).not.toBe(good);
  });

  test("a session token is sent and signed", async () => {
    const withToken = createS3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET, sessionToken: "FQoGZXIvYXdzEXAMPLE", region: "us-east-1" });
    const request = await signS3Request(withToken, { method: "GET", url: `${HOST}/test.txt`, payloadHash: EMPTY_PAYLOAD_SHA256, datetime: DATETIME });
    expect(request.headers.get("x-amz-security-token")).toBe("FQoGZXIvYXdzEXAMPLE");
    expect(authParts(request).signedHeaders).toBe("host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
  });

  test("region is used as given, including R2's auto", async () => {
    const r2 = createS3Signer({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET, region: "auto" });
    const request = await signS3Request(r2, { method: "GET", url: "https://b.acct.r2.cloudflarestorage.com/k", payloadHash: EMPTY_PAYLOAD_SHA256, datetime: DATETIME });
    expect(authParts(request).credential).toBe(`${ACCESS_KEY}/20130524/auto/s3/aws4_request`);
  });

  test("the store's clock sets x-amz-date", async () => {
    const seen: string[] = [];
    const fetch = async (input: RequestInfo | URL): Promise<Response> => {
      if (input instanceof Request) seen.push(input.headers.get("x-amz-date") ?? "");
      return new Response(null, { status: 404 });
    };
    const store = new S3Store({ endpoint: "http://127.0.0.1:1", region: "us-east-1", bucket: "b", accessKeyId: "a", secretAccessKey: "s", fetch, now: () => new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) });
    expect(await store.head("k")).toBeNull();
    expect(seen).toEqual(["20240102T030405Z"]);
  });
});
