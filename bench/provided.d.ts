/** Values the Node setups hand to the workerd benchmarks via `inject()`. */
import type { BenchPlan } from "./large-plan.ts";
import type { SidePlan } from "./side-plan.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of bench/large.setup.ts's server: /file/<path under the cache root>, /memory, /result/<key>. */
    benchUrl: string;
    benchPlan: BenchPlan;
    /** Base URL of bench/side.setup.ts's server: /file/<path under plan.root>, /result/<key>. */
    sideUrl: string;
    sidePlan: SidePlan;
  }
}
export {};
