/**
 * Calling the Worker's app with an env of the test's own (LIMITS, DATABASES
 * and secrets are parsed once per env object, so each scenario gets a fresh
 * one), waiting for its background work (waitUntil) before returning.
 */
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { createApp } from "../../src/app.ts";
import type { Reply } from "./http.ts";

const app = createApp();

export type Bindings = typeof env & Record<string, unknown>;

/** A fresh env object with extra vars/secrets. */
export function envWith(extra: Record<string, unknown>): Bindings {
  return { ...env, ...extra };
}

/** One request; resolves once the response and every waitUntil task are done. */
export async function viaApp(e: Bindings, path: string, init: RequestInit = {}, host = "http://localhost"): Promise<Reply> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${host}${path}`, init), e, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, text };
}

/** POSTs a JSON body to /db/<db>/query. */
export function queryVia(e: Bindings, db: string, body: Record<string, unknown>): Promise<Reply> {
  return viaApp(e, `/db/${encodeURIComponent(db)}/query`, { method: "POST", body: JSON.stringify(body) });
}

/** A name no other test uses. */
export function uniqueName(base: string): string {
  return `${base}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}
