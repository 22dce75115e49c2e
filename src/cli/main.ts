/**
 * @module
 * Entry point of the `ltx-edge` command line: dispatches to the command
 * modules and turns errors into one line on stderr and an exit code
 * (0 ok, 1 user error or failed verification, 2 unknown command or flag).
 *
 * @example
 * ```ts
 * import { main } from "./src/cli/main.ts";
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
import { readFileSync } from "node:fs";
import { CliError, formatDebug, formatError, usageError } from "./errors.ts";
import { type CliIo, processIo } from "./io.ts";

interface CommandModule {
  run: (argv: readonly string[], io: CliIo) => Promise<number>;
  help: () => string;
}

interface Command {
  summary: string;
  /** Imported on use: a command loads only its own modules (`query` alone pulls in the SQL engine). */
  load: () => Promise<CommandModule>;
}

const COMMANDS: Record<string, Command> = {
  restore: {
    summary: "write the database at a TXID or time to a file",
    load: async () => import("./restore.ts").then((m) => ({ run: m.runRestore, help: m.restoreHelp })),
  },
  query: {
    summary: "run read-only SQL against a replica without restoring it",
    load: async () => import("./query.ts").then((m) => ({ run: m.runQuery, help: m.queryHelp })),
  },
  info: { summary: "describe a replica: levels, sizes, restorable TXID ranges", load: async () => import("./info.ts").then((m) => ({ run: m.runInfo, help: m.infoHelp })) },
  ltx: { summary: "list the LTX files of a replica per level (as litestream ltx)", load: async () => import("./ltx.ts").then((m) => ({ run: m.runLtx, help: m.ltxHelp })) },
  verify: {
    summary: "decode and checksum every LTX file, check the latest plan",
    load: async () => import("./verify.ts").then((m) => ({ run: m.runVerify, help: m.verifyHelp })),
  },
  import: {
    summary: "make a snapshot replica from a plain SQLite database",
    load: async () => import("./import.ts").then((m) => ({ run: m.runImport, help: m.importHelp })),
  },
  seed: { summary: "copy a replica into wrangler's local R2 as a database", load: async () => import("./seed.ts").then((m) => ({ run: m.runSeed, help: m.seedHelp })) },
  dev: {
    summary: "run the Worker locally (wrangler dev) with a sample database",
    load: async () => import("./dev.ts").then((m) => ({ run: m.runDev, help: m.devHelp })),
  },
  version: {
    summary: "print the version",
    load: async () => ({
      run: async (_argv, io) => {
        io.stdout.write(`ltx-edge ${version()}\n`);
        return 0;
      },
      help: () => "Usage: ltx-edge version\n\nPrint the version of ltx-edge.\n",
    }),
  },
};

/** Top-level spellings: Go-style single-dash forms too, as Litestream users type them. */
const HELP_FLAGS = new Set(["--help", "-help", "-h"]);
const VERSION_FLAGS = new Set(["--version", "-version"]);
const DEBUG_FLAGS = new Set(["--debug", "-debug"]);

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `Usage: ltx-edge <command> [arguments] [flags]

Read Litestream (v0.5, LTX) replicas from the command line.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join("\n")}
  ${"help".padEnd(width)}  show help for a command

<replica> is a directory, file:///path, or s3://bucket/prefix (S3 settings from
--endpoint/--region/--access-key-id/--secret-access-key or the AWS_* variables).
TXIDs are 16 hex digits, 0x-prefixed hex, or decimal. Flags take one or two
dashes and their value after a space or '=' (Litestream's -o, -txid, -timestamp,
-if-db-not-exists, -if-replica-exists work as in litestream restore).

Global flags:
  --help, -h  show help (also after a command)
  --version   print the version
  --debug     print stack traces for errors

Run 'ltx-edge <command> --help' for a command's arguments and flags.
`;
}

function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  const v = typeof pkg === "object" && pkg !== null ? (pkg as { version?: unknown }).version : undefined;
  return typeof v === "string" ? v : "unknown";
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const debug = argv.some((a) => DEBUG_FLAGS.has(a));
  try {
    const first = argv.findIndex((a) => !DEBUG_FLAGS.has(a));
    const head = first < 0 ? undefined : argv[first];
    const rest = first < 0 ? [] : argv.slice(first + 1);
    if (head === undefined) {
      io.stderr.write(topHelp());
      return 2;
    }
    if (HELP_FLAGS.has(head)) {
      io.stdout.write(topHelp());
      return 0;
    }
    if (VERSION_FLAGS.has(head)) {
      io.stdout.write(`ltx-edge ${version()}\n`);
      return 0;
    }
    if (head === "help") {
      const name = rest.find((a) => !DEBUG_FLAGS.has(a));
      if (name === undefined) {
        io.stdout.write(topHelp());
        return 0;
      }
      const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
      if (!cmd) throw usageError("CLI_UNKNOWN_COMMAND", `unknown command ${JSON.stringify(name)}`);
      io.stdout.write((await cmd.load()).help());
      return 0;
    }
    if (head.startsWith("-")) throw usageError("CLI_UNKNOWN_FLAG", `unknown flag ${head} (flags go after the command)`);
    const cmd = Object.hasOwn(COMMANDS, head) ? COMMANDS[head] : undefined;
    if (!cmd) throw usageError("CLI_UNKNOWN_COMMAND", `unknown command ${JSON.stringify(head)}`);
    return await (await cmd.load()).run(rest, io);
  } catch (e) {
    io.stderr.write(`${formatError(e)}\n`);
    if (debug) io.stderr.write(`${formatDebug(e)}\n`);
    if (e instanceof CliError && e.exitCode === 2) {
      io.stderr.write("Run 'ltx-edge --help' for the commands and 'ltx-edge <command> --help' for their flags.\n");
      return 2;
    }
    return 1;
  }
}
