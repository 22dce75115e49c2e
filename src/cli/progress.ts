/**
 * @module
 * Progress of long commands (restore, verify, seed, import) on stderr: bytes
 * done of the total, the rate and an ETA. On a terminal one line is redrawn
 * in place (at most every {@link REDRAW_MS}); in a pipe nothing is printed
 * unless asked for (`--progress` or `LTX_EDGE_PROGRESS=1`), and then a plain
 * line appears at each tenth of the bytes, so logs and tests never see
 * control characters or timing-dependent output. `LTX_EDGE_PROGRESS=0` silences it everywhere.
 */
import { humanBytes, humanDuration } from "./format.ts";
import type { CliIo } from "./io.ts";

/** Redrawn in place on a terminal, printed line by line when forced elsewhere, or not shown. */
export type ProgressMode = "tty" | "lines" | "off";

/** Minimum time between two redraws of the terminal line. */
export const REDRAW_MS = 100;

/** How progress is shown for this run: a terminal shows it by default, a pipe only when forced. */
export function progressMode(io: CliIo, forced = false): ProgressMode {
  const env = io.env["LTX_EDGE_PROGRESS"];
  const tty = io.stderr.isTTY === true;
  if (forced || env === "1") return tty ? "tty" : "lines";
  if (env === "0") return "off";
  return tty ? "tty" : "off";
}

/** A snapshot of the work done. */
export interface ProgressState {
  bytes: number;
  totalBytes: number;
  /** Whole items (files, pages) done, when the work has such units. */
  items?: number;
  totalItems?: number;
}

/** `1h02m`, `2m05s`, `7 s`: short enough for a status line. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * One progress line on stderr for one command run: {@link update} it with
 * each new state, {@link finish} it on success, {@link end} it before an
 * error message.
 */
export class Progress {
  private readonly started: number;
  private lastDraw = Number.NEGATIVE_INFINITY;
  /** A terminal line is drawn and not yet ended with a newline. */
  private open = false;
  private lastTenth = -1;
  private finished = false;

  /**
   * @param label  what is being done, e.g. `restoring`
   * @param unit   the items' name, e.g. `files`
   */
  constructor(
    private readonly io: CliIo,
    readonly mode: ProgressMode,
    private readonly label: string,
    private readonly unit = "files",
  ) {
    this.started = this.now();
  }

  private now(): number {
    return this.io.now ? this.io.now() : performance.now();
  }

  /** The status line for a state at `elapsedMs`. */
  line(p: ProgressState, elapsedMs: number): string {
    const pct = p.totalBytes > 0 ? Math.floor((p.bytes / p.totalBytes) * 100) : 100;
    const parts = [`${humanBytes(p.bytes)} of ${humanBytes(p.totalBytes)} (${pct}%)`];
    if (p.items !== undefined && p.totalItems !== undefined) parts.push(`${p.items}/${p.totalItems} ${this.unit}`);
    const rate = elapsedMs > 0 ? p.bytes / (elapsedMs / 1000) : 0;
    if (p.bytes >= p.totalBytes) parts.push(`done in ${humanDuration(elapsedMs)}`);
    else if (rate > 0) parts.push(`${humanBytes(Math.round(rate))}/s`, `ETA ${formatEta((p.totalBytes - p.bytes) / rate)}`);
    else parts.push("ETA --");
    return `${this.label}: ${parts.join(", ")}`;
  }

  /** Reports a new state; draws it when the mode and the throttle allow. The state with every byte done is always drawn once. */
  update(p: ProgressState): void {
    if (this.mode === "off" || this.finished) return;
    const t = this.now();
    const complete = p.bytes >= p.totalBytes && (p.items === undefined || p.items === p.totalItems);
    if (this.mode === "tty") {
      if (!complete && t - this.lastDraw < REDRAW_MS) return;
      this.lastDraw = t;
      this.io.stderr.write(`\r\x1b[K${this.line(p, t - this.started)}`);
      this.open = true;
    } else {
      // Lines: at most one per tenth of the bytes (eleven in all), whatever the number of items.
      const tenth = p.totalBytes > 0 ? Math.floor((p.bytes / p.totalBytes) * 10) : 10;
      if (!complete && tenth === this.lastTenth) return;
      this.lastTenth = tenth;
      this.io.stderr.write(`${this.line(p, t - this.started)}\n`);
    }
    if (complete) this.finish();
  }

  /** Ends the line; later updates are ignored. */
  finish(): void {
    this.finished = true;
    this.end();
  }

  /** Ends a half-drawn terminal line (before an error message or other output). */
  end(): void {
    if (this.open) this.io.stderr.write("\n");
    this.open = false;
  }
}

/** A {@link Progress} for a command, shown per {@link progressMode}. */
export function progressFor(io: CliIo, label: string, opts: { forced?: boolean; unit?: string } = {}): Progress {
  return new Progress(io, progressMode(io, opts.forced === true), label, opts.unit);
}
