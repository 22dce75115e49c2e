/**
 * VM steps per ms in workerd, JSPI and Asyncify (run by bench/vm-steps.ts).
 * The `events` table is built here with the same schema as the medium fixture.
 */
import { beforeAll, test } from "vitest";
import { LtxVfs } from "../src/vfs/ltx-vfs.ts";
import { instantiateSqlite, type SqliteBuild } from "../src/vfs/sqlite-module.ts";
import { FixtureDb, TestPageSource } from "../test/support/sqlite-db.ts";
import { EVENTS_SCHEMA, VM_STEP_QUERIES, eventsFill, formatRates, measureSteps } from "./vm-steps-core.ts";

let bytes: Uint8Array;

beforeAll(async () => {
  const db = await FixtureDb.create(4096);
  await db.exec(`${EVENTS_SCHEMA}; ${eventsFill(200_000)}; CREATE INDEX events_ref ON events(ref);`);
  bytes = db.bytes();
  await db.close();
});

for (const build of ["jspi", "asyncify"] as SqliteBuild[]) {
  test(`vm steps per ms: workerd ${build}`, async () => {
    const inst = await instantiateSqlite(build);
    const vfs = new LtxVfs(inst.module);
    inst.sqlite3.vfs_register(vfs, false);
    vfs.pin("events", new TestPageSource(bytes, 1));
    const db = await inst.sqlite3.open_v2("events", 1, vfs.name);
    await inst.sqlite3.exec(db, "PRAGMA temp_store = MEMORY");
    const rates = [];
    for (const sql of VM_STEP_QUERIES) rates.push(await measureSteps(inst.sqlite3, db, sql));
    console.log(`VMSTEPS\n${formatRates(`workerd ${build}`, rates)}`);
  });
}
