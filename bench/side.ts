/**
 * Runs the side-by-side benchmark in workerd (bench/side.workerd.ts) on the
 * `medium` replica and its restored file, and returns what it reported.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { replicaFiles } from "./medium-files.ts";
import { KINDS, type QueryKind } from "./query-kinds.ts";
import type { SidePlan, SideResults } from "./side-plan.ts";

const ROOT = join(import.meta.dirname, "..");

export interface SideOptions {
  reps: SidePlan["reps"];
  naiveReps: SidePlan["naiveReps"];
  builds: SidePlan["builds"];
  naiveBuilds: SidePlan["naiveBuilds"];
}

/** Runs the workerd side of the comparison; `restored` is the restored database file. */
export async function benchSide(medium: string, restored: string, o: SideOptions, kinds: readonly QueryKind[] = KINDS): Promise<{ results: SideResults | null; exitCode: number; ms: number }> {
  const root = await mkdtemp(join(tmpdir(), "ltx-edge-bench-side-"));
  try {
    await symlink(medium, join(root, "medium"));
    await symlink(restored, join(root, "medium.db"));
    // Into R2 in the S3 layout Litestream writes (<prefix>/<level %04x>/<min>-<max>.ltx).
    const files = (await replicaFiles(medium, "medium")).map((f) => ({ rel: join("medium", f.rel), key: f.key }));
    const plan: SidePlan = { root, resultsPath: join(root, "results.json"), files, prefix: "medium", restored: "medium.db", kinds: [...kinds], ...o };
    const t0 = Date.now();
    const exitCode = await new Promise<number>((resolve, reject) => {
      const p = spawn("npx", ["vitest", "run", "--config", "bench/vitest.side.config.ts"], {
        cwd: ROOT,
        stdio: ["ignore", "inherit", "inherit"],
        env: { ...process.env, LTX_EDGE_BENCH_SIDE: JSON.stringify(plan) },
      });
      p.on("error", reject);
      p.on("exit", (code) => resolve(code ?? 1));
    });
    const ms = Date.now() - t0;
    const all = JSON.parse(await readFile(plan.resultsPath, "utf8").catch(() => "{}")) as { side?: SideResults };
    return { results: all.side ?? null, exitCode, ms };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
