/** Shared assertions for HTTP API tests. */
import { expect } from "vitest";

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/** Asserts a JSON error reply `{error: {code, message}}` with a helpful message; returns the message. */
export function expectError(r: Reply, status: number, code: string, message?: RegExp): string {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get("content-type") ?? "").toMatch(/^application\/json/);
  const body = JSON.parse(r.text) as ErrorBody;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.code, r.text).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.trim().length).toBeGreaterThan(5);
  if (message) expect(body.error.message).toMatch(message);
  return body.error.message;
}
