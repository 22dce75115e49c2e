/**
 * @module
 * A small hand-written argument parser (no dependencies). Each command
 * declares its positionals and flags; `--flag value`, `--flag=value`, `--`
 * and `-h` are understood. Unknown flags raise exit-code-2 errors, missing
 * or surplus arguments exit-code-1 errors.
 */
import { badArgs, usageError } from "./errors.ts";

export interface FlagSpec {
  /** Long name without the dashes. */
  name: string;
  /** Value placeholder for help text; flags without one are booleans. */
  value?: string;
  /** One-line description for help text. */
  help: string;
}

export interface CommandSpec {
  name: string;
  /** Required positionals, in order (names as shown in usage, e.g. `<replica>`). */
  positionals: readonly string[];
  flags: readonly FlagSpec[];
}

/** Flags every command accepts. */
export const COMMON_FLAGS: readonly FlagSpec[] = [
  { name: "help", help: "show this help and exit" },
  { name: "debug", help: "print stack traces for errors" },
];

export interface ParsedArgs {
  /** True when --help/-h was given: nothing else was validated. */
  help: boolean;
  positionals: string[];
  string(name: string): string | undefined;
  bool(name: string): boolean;
}

/** True when argv asks for help before any `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (a === "-h" || a === "--help") return true;
  }
  return false;
}

export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const flags = new Map<string, string | true>();
  const positionals: string[] = [];
  const byName = new Map([...COMMON_FLAGS, ...spec.flags].map((f) => [f.name, f]));
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

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    if (!a.startsWith("--")) throw usageError("CLI_UNKNOWN_FLAG", `${spec.name}: unknown flag ${a}`);
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const flag = byName.get(name);
    if (!flag) throw usageError("CLI_UNKNOWN_FLAG", `${spec.name}: unknown flag --${name}`);
    if (flags.has(name)) throw badArgs(`${spec.name}: --${name} given more than once`);
    if (flag.value === undefined) {
      if (eq >= 0) throw badArgs(`${spec.name}: --${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = a.slice(eq + 1);
    else {
      value = argv[i + 1];
      // A following flag is almost certainly a forgotten value, not the value itself.
      if (value === undefined || value.startsWith("--")) throw badArgs(`${spec.name}: --${name} needs a value ${flag.value}`);
      i++;
    }
    flags.set(name, value);
  }

  const names = spec.positionals;
  if (positionals.length < names.length) {
    throw badArgs(`${spec.name}: missing ${names.slice(positionals.length).join(" ")} (see 'ltx-edge ${spec.name} --help')`);
  }
  if (positionals.length > names.length) {
    throw badArgs(`${spec.name}: unexpected argument ${JSON.stringify(positionals[names.length])} (see 'ltx-edge ${spec.name} --help')`);
  }
  return result;
}

/** Help text for a command: usage, description, flags. */
export function formatHelp(spec: CommandSpec, summary: string, details = ""): string {
  const flags = [...spec.flags, ...COMMON_FLAGS];
  const label = (f: FlagSpec) => `--${f.name}${f.value ? ` ${f.value}` : ""}${f.name === "help" ? ", -h" : ""}`;
  const width = Math.max(...flags.map((f) => label(f).length));
  const lines = [
    `Usage: ltx-edge ${spec.name} ${spec.positionals.join(" ")} [flags]`.replace(/ +\[/, " ["),
    "",
    summary,
    "",
    "Flags:",
    ...flags.map((f) => `  ${label(f).padEnd(width)}  ${f.help}`),
  ];
  if (details) lines.push("", details.trimEnd());
  return `${lines.join("\n")}\n`;
}
