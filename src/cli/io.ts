/**
 * @module
 * The streams and environment a command runs against. Commands never touch
 * `process` directly, so tests can run them in-process and read what they
 * printed; {@link processIo} wires the real process.
 */

/** A text sink: stdout, stderr, or a buffer in tests. */
export interface Output {
  write(text: string): void;
  /** True when the sink is an interactive terminal (progress is shown then). */
  readonly isTTY?: boolean;
}

export interface CliIo {
  stdout: Output;
  stderr: Output;
  /** Environment variables (S3 settings, LTX_EDGE_PROGRESS). */
  env: Readonly<Record<string, string | undefined>>;
  /** Monotonic clock in ms for progress rates and ETAs; default performance.now (tests pass a fake one). */
  now?: () => number;
  /**
   * Registers a synchronous cleanup to run if the process is interrupted
   * (SIGINT/SIGTERM) before `dispose` is called. Absent in tests.
   */
  onInterrupt?: (cleanup: () => void) => () => void;
  /**
   * Routes SIGINT, SIGTERM and SIGHUP to `handler` instead of the default
   * exit, until the returned function is called (for commands that must stop
   * a child first). Absent in tests.
   */
  trapSignals?: (handler: (signal: TrappedSignal) => void) => () => void;
}

export type TrappedSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/** Text collected by {@link bufferIo}. */
export interface BufferedIo extends CliIo {
  readonly out: () => string;
  readonly err: () => string;
}

/** An in-memory CliIo for tests and embedding. */
export function bufferIo(
  env: Readonly<Record<string, string | undefined>> = {},
  opts: { stderrIsTTY?: boolean; now?: () => number } = {},
): BufferedIo {
  let out = "";
  let err = "";
  return {
    stdout: { write: (t) => void (out += t), isTTY: false },
    stderr: { write: (t) => void (err += t), isTTY: opts.stderrIsTTY ?? false },
    env,
    ...(opts.now ? { now: opts.now } : {}),
    out: () => out,
    err: () => err,
  };
}

const SIGNAL_EXIT: Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 };

/** The real process: its streams, its environment, and signal-time cleanup. */
export function processIo(): CliIo {
  const cleanups = new Set<() => void>();
  const onSignal = (signal: "SIGINT" | "SIGTERM"): void => {
    for (const c of cleanups) {
      try {
        c();
      } catch {
        // Best effort: we are exiting anyway.
      }
    }
    process.exit(SIGNAL_EXIT[signal]);
  };
  let installed = false;
  return {
    stdout: { write: (t) => void process.stdout.write(t), isTTY: process.stdout.isTTY === true },
    stderr: { write: (t) => void process.stderr.write(t), isTTY: process.stderr.isTTY === true },
    env: process.env,
    onInterrupt(cleanup) {
      if (!installed) {
        // Installed lazily so that commands without cleanup keep Node's default signal behaviour.
        installed = true;
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
      }
      cleanups.add(cleanup);
      return () => void cleanups.delete(cleanup);
    },
    trapSignals(handler) {
      const signals: TrappedSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
      const listeners = signals.map((s) => [s, () => handler(s)] as const);
      for (const [s, l] of listeners) process.on(s, l);
      return () => {
        for (const [s, l] of listeners) process.off(s, l);
      };
    },
  };
}
