/**
 * Memory of workerd processes, from /proc: the workerd processes below a
 * given process (miniflare and wrangler start them as children), their RSS
 * now (VmRSS) and peak since the last reset (VmHWM).
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";

/** kB figures of /proc/<pid>/status (0 for a process gone since it was listed). */
function statusKb(pid: number, field: string): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return 0;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) : 0;
}

/** workerd processes below process `root`. */
export function workerdPids(root: number): number[] {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const close = stat.lastIndexOf(")");
      comm.set(Number(e), stat.slice(stat.indexOf("(") + 1, close));
      parent.set(Number(e), Number(stat.slice(close + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const below = (pid: number): boolean => {
    for (let p = pid, n = 0; p > 1 && n < 64; p = parent.get(p) ?? 0, n++) if (p === root) return true;
    return false;
  };
  return [...comm].filter(([pid, c]) => c === "workerd" && below(pid)).map(([pid]) => pid);
}

export interface MemoryReading {
  pids: number[];
  /** Sums over the workerd processes, bytes. */
  rss: number;
  hwm: number;
}

export function workerdMemory(root: number): MemoryReading {
  const pids = workerdPids(root);
  let rss = 0;
  let hwm = 0;
  for (const p of pids) {
    rss += statusKb(p, "VmRSS") * 1024;
    hwm += statusKb(p, "VmHWM") * 1024;
  }
  return { pids, rss, hwm };
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs). */
export function resetPeak(root: number): void {
  for (const p of workerdPids(root)) {
    try {
      writeFileSync(`/proc/${p}/clear_refs`, "5");
    } catch {
      // gone since it was listed
    }
  }
}
