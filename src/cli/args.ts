/**
 * @module
 * A small hand-written argument parser (no dependencies) that reads flags the
 * way Go's `flag` package does, so Litestream habits carry over: `-flag`,
 * `--flag`, `-flag value`, `-flag=value`, and `-flag=true|false` for
 * booleans. Each command declares its positionals and flags (with aliases
 * such as `-o` for `--output`); flags and positionals may be mixed, `--` ends
 * the flags. Unknown flags raise exit-code-2 errors (Litestream flags that
 * ltx-edge does not implement say why), missing or surplus arguments
 * exit-code-1 errors.
 */
import { badArgs, usageError } from "./errors.ts";

export interface FlagSpec {
  /** Long name without the dashes. */
  name: string;
  /** Value placeholder for help text; flags without one are booleans. */
  value?: string;
  /** One-line description for help text. */
  help: string;
  /** Other accepted names, e.g. Litestream's `o` for `output`. */
  aliases?: readonly string[];
}

export interface CommandSpec {
  name: string;
  /** Required positionals, in order (names as shown in usage, e.g. `<replica>`). */
  positionals: readonly string[];
  /** Optional positionals after the required ones. */
  optional?: readonly string[];
  flags: readonly FlagSpec[];
  /** Usage lines (after `ltx-edge `) when the default one does not fit. */
  usage?: readonly string[];
}

/** Flags every command accepts. */
export const COMMON_FLAGS: readonly FlagSpec[] = [
  { name: "help", help: "show this help and exit", aliases: ["h"] },
  { name: "debug", help: "print stack traces for errors" },
];

/**
 * Litestream flags ltx-edge does not implement, with the reason: refused by
 * name (exit 2) rather than as unknown, so a copied Litestream command line
 * explains itself.
 */
const LITESTREAM_ONLY: Readonly<Record<string, string>> = {
  config: "ltx-edge reads a replica given as a directory, file:// or s3:// URL, not through litestream.yml",
  "no-expand-env": "ltx-edge reads no litestream.yml",
  f: "follow mode is not supported; the Worker follows replicas, or restore again for a newer state",
  "follow-interval": "follow mode is not supported",
  parallelism: "ltx-edge reads ranges with a fixed fan-out",
  "integrity-check": "every LTX file's checksum is verified while restoring; run sqlite3 out.db 'PRAGMA integrity_check' for SQLite's own check",
};

export interface ParsedArgs {
  /** True when --help/-h was given: nothing else was validated. */
  help: boolean;
  positionals: string[];
  string(name: string): string | undefined;
  bool(name: string): boolean;
}

const HELP_TOKENS = new Set(["-h", "--h", "-help", "--help"]);

/** True when argv asks for help before any `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (HELP_TOKENS.has(a)) return true;
  }
  return false;
}

/** Go's strconv.ParseBool spellings, as `-flag=value` accepts them for booleans. */
const BOOL_VALUES: Readonly<Record<string, boolean>> = {
  "1": true, t: true, T: true, true: true, TRUE: true, True: true,
  "0": false, f: false, F: false, false: false, FALSE: false, False: false,
};

/** A flag token split into its dashes, name and `=value`; null for positionals. */
function splitFlag(token: string): { dashes: string; name: string; value: string | undefined } | null {
  const m = /^(--?)([^-=][^=]*)(?:=(.*))?$/s.exec(token);
  if (!m) return null;
  return { dashes: m[1] as string, name: m[2] as string, value: m[3] };
}

export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const flags = new Map<string, string | boolean>();
  const positionals: string[] = [];
  const byName = new Map<string, FlagSpec>();
  for (const f of [...COMMON_FLAGS, ...spec.flags]) for (const n of [f.name, ...(f.aliases ?? [])]) byName.set(n, f);
  const help = wantsHelp(argv);
  const result: ParsedArgs = {
    help,
    positionals,
    string: (name) => {
      const v = flags.get(name);
      return typeof v === "string" ? v : undefined;
    },
    bool: (name) => flags.get(name) === true,
  };
  if (help) return result;

  /** A token that names one of this command's flags: never taken as another flag's value. */
  const isOurFlag = (token: string): boolean => {
    const s = splitFlag(token);
    return s !== null && (s.dashes === "--" || byName.has(s.name));
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    const s = a === "-" ? null : splitFlag(a);
    if (s === null) {
      if (a.startsWith("-") && a !== "-") throw usageError("CLI_UNKNOWN_FLAG", `${spec.name}: unknown flag ${a}`);
      positionals.push(a);
      continue;
    }
    const shown = `${s.dashes}${s.name}`;
    const flag = byName.get(s.name);
    if (!flag) {
      const why = Object.hasOwn(LITESTREAM_ONLY, s.name) ? LITESTREAM_ONLY[s.name] : undefined;
      if (why !== undefined) throw usageError("CLI_UNKNOWN_FLAG", `${spec.name}: ${shown} is a Litestream flag ltx-edge does not support: ${why}`);
      throw usageError("CLI_UNKNOWN_FLAG", `${spec.name}: unknown flag ${shown}`);
    }
    if (flags.has(flag.name)) throw badArgs(`${spec.name}: --${flag.name} given more than once`);
    if (flag.value === undefined) {
      if (s.value === undefined) flags.set(flag.name, true);
      else {
        const b = Object.hasOwn(BOOL_VALUES, s.value) ? BOOL_VALUES[s.value] : undefined;
        if (b === undefined) throw badArgs(`${spec.name}: ${shown} takes no value (or =true / =false)`);
        flags.set(flag.name, b);
      }
      continue;
    }
    let value = s.value;
    if (value === undefined) {
      value = argv[i + 1];
      // A following flag is almost certainly a forgotten value, not the value itself (but `-5m` may be a value).
      if (value === undefined || isOurFlag(value)) throw badArgs(`${spec.name}: ${shown} needs a value ${flag.value}`);
      i++;
    }
    flags.set(flag.name, value);
  }

  const required = spec.positionals;
  const max = required.length + (spec.optional?.length ?? 0);
  if (positionals.length < required.length) {
    throw badArgs(`${spec.name}: missing ${required.slice(positionals.length).join(" ")} (see 'ltx-edge ${spec.name} --help')`);
  }
  if (positionals.length > max) {
    throw badArgs(`${spec.name}: unexpected argument ${JSON.stringify(positionals[max])} (see 'ltx-edge ${spec.name} --help')`);
  }
  return result;
}

/** Help text for a command: usage, description, flags. */
export function formatHelp(spec: CommandSpec, summary: string, details = ""): string {
  const flags = [...spec.flags, ...COMMON_FLAGS];
  const label = (f: FlagSpec) => {
    const short = (f.aliases ?? []).filter((a) => a.length === 1).map((a) => `-${a}, `);
    return `${short.join("")}--${f.name}${f.value ? ` ${f.value}` : ""}`;
  };
  const width = Math.max(...flags.map((f) => label(f).length));
  const optional = (spec.optional ?? []).map((p) => `[${p}]`);
  const usage = spec.usage ?? [`${spec.name} ${[...spec.positionals, ...optional].join(" ")} [flags]`.replace(/ +\[flags\]/, " [flags]")];
  const lines = [
    ...usage.map((u, i) => `${i === 0 ? "Usage:" : "      "} ltx-edge ${u}`),
    "",
    summary,
    "",
    "Flags (one or two dashes, value after a space or '=', as in Litestream):",
    ...flags.map((f) => `  ${label(f).padEnd(width)}  ${f.help}`),
  ];
  if (details) lines.push("", details.trimEnd());
  return `${lines.join("\n")}\n`;
}
