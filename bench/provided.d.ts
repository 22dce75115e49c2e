/** Values bench/large.setup.ts hands to bench/large.workerd.ts via `inject()`. */
import type { BenchPlan } from "./large-plan.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the setup's server: /file/<path under the cache root>, /memory, /result/<key>. */
    benchUrl: string;
    benchPlan: BenchPlan;
  }
}
export {};
