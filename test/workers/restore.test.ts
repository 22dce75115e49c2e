import { env } from "cloudflare:workers";
import { describe, expect, inject, test } from "vitest";
import { R2Store } from "../../src/replica/r2.ts";
import { Replica } from "../../src/replica/replica.ts";
import { S3Store } from "../../src/replica/s3.ts";
import { restoreToBytes } from "../../src/restore/restore.ts";
import { expectedSha, manifest, seedReplica, sha256Hex, wipe } from "../support/seed.ts";

const FIXTURES = ["small", "multi-level", "pagesize-1024", "pagesize-65536", "legacy-frame", "mixed-upgrade", "poll/before", "poll/after"];

describe("restore inside workerd", () => {
  const r2 = new R2Store(env.BUCKET);
  const s3 = new S3Store({ ...inject("s3"), forcePathStyle: true });

  for (const dir of FIXTURES) {
    test(`${dir}: local R2 (both layouts) and S3 restore to the manifest's sha256`, async () => {
      const m = await manifest(dir.split("/")[0] as string);
      const finalTxid = dir === "poll/before" ? (m.before_final_txid ?? "") : dir === "poll/after" ? (m.after_final_txid ?? "") : m.final_txid;
      const want = expectedSha(m, finalTxid);
      const prefix = `restore/${dir}`;
      await seedReplica(r2, dir, `${prefix}/s3`, "s3");
      await seedReplica(r2, dir, `${prefix}/file`, "file");
      await wipe(s3, `${prefix}/`);
      await seedReplica(s3, dir, prefix, "s3");
      for (const replica of [
        new Replica(r2, { prefix: `${prefix}/s3` }),
        new Replica(r2, { prefix: `${prefix}/file` }),
        new Replica(s3, { prefix }),
      ]) {
        const r = await restoreToBytes(replica);
        expect(r.txid).toBe(Number.parseInt(finalTxid, 16));
        expect(await sha256Hex(r.bytes), replica.description).toBe(want);
      }
    });
  }
});
