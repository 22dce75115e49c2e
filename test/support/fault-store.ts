/**
 * Fault injection for tests: an ObjectStore that forwards to a real one
 * except for the methods given. Used only to produce faults (5xx, timeouts,
 * races) that real local R2 cannot.
 */
import type { ObjectStore } from "../../src/replica/types.ts";

export function withFaults(inner: ObjectStore, overrides: Partial<Omit<ObjectStore, "description">>): ObjectStore {
  return {
    description: inner.description,
    list: overrides.list ?? ((p, o) => inner.list(p, o)),
    getRange: overrides.getRange ?? ((k, o, l) => inner.getRange(k, o, l)),
    getSuffix: overrides.getSuffix ?? ((k, l, s) => inner.getSuffix(k, l, s)),
    get: overrides.get ?? ((k) => inner.get(k)),
    head: overrides.head ?? ((k) => inner.head(k)),
  };
}
