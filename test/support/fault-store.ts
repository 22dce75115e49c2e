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

/**
 * A store whose ETags are `etag` for every object (listings and reads), as a
 * store whose ETags are version tags rather than content hashes may report:
 * two stores wrapped with the same tag hold same-key, same-ETag objects with
 * different bytes, which real MD5-ETag stores (local R2, s3rver) never do.
 */
export function withFixedEtag(inner: ObjectStore, etag: string): ObjectStore {
  return withFaults(inner, {
    list: async (p, o) => (await inner.list(p, o)).map((x) => ({ ...x, etag })),
    getRange: async (k, o, l) => ({ ...(await inner.getRange(k, o, l)), etag }),
    getSuffix: async (k, l, s) => ({ ...(await inner.getSuffix(k, l, s)), etag }),
    get: async (k) => ({ ...(await inner.get(k)), etag }),
    head: async (k) => {
      const h = await inner.head(k);
      return h ? { ...h, etag } : null;
    },
  });
}
