/**
 * The command edge: argument parsing (`args.ts`), global options, `--help`,
 * and turning errors into one line (and, with `--json`, one document) and an
 * exit code.
 * Commands declare a {@linkcode CommandSpec}; {@linkcode defineCommand}
 * returns the `main(args)` that `mod.ts` (or the module itself, when run on
 * its own) calls. Nothing here exits the process.
 *
 * @module
 */

import { parseArguments } from "./args.ts";
import { GLOBAL_OPTIONS, type OptionSpec, PROGRAM } from "./global_options.ts";

export { GLOBAL_OPTIONS, type OptionSpec, PROGRAM };
import { UsageError } from "../errors/errors.ts";
import { asUserError, errorDocument, errorLine, exitCodeOf } from "./error_output.ts";
import { EXIT_USAGE } from "./exit_codes.ts";

export { asUserError, errorDocument, errorLine, exitCodeOf };
import { createProgress } from "./progress.ts";
import type { Progress, ProgressMode } from "../progress/progress.ts";
import type { GlobalOptions } from "../config/options.ts";

export type { GlobalOptions };
import { defaultDataDir, readEnvExact } from "../config/paths.ts";
import { runInterruptible } from "./interrupt.ts";

/** A command's own options, by long name. */
export type OptionSpecs = Record<string, OptionSpec>;

/**
 * The value an option spec parses to: a boolean flag is `true` or `false`,
 * a repeatable string option a list (empty when absent), a string option
 * its value or `undefined`.
 */
export type OptionValue<S extends OptionSpec> = S["type"] extends "boolean" ? boolean
  : S["multiple"] extends true ? string[]
  : string | undefined;

/** The typed values of a command's options, derived from its spec. */
export type OptionValues<O extends OptionSpecs> = { [K in keyof O]: OptionValue<O[K]> };

/** What a command's `run` receives. */
export interface CommandContext<O extends OptionSpecs = OptionSpecs> {
  /** Positional arguments. */
  args: string[];
  /** Command-specific options, typed from the command's spec. */
  options: OptionValues<O>;
  global: GlobalOptions;
  progress: Progress;
  /** Print one line (or block) on stdout. */
  out(text: string): void;
  /** Print one line on stderr. */
  err(text: string): void;
}

/** A command's declaration. */
export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  name: string;
  summary: string;
  /** Usage line after the program name, e.g. `upgrade IMAGE [--tag TAG]`. */
  usage: string;
  /** Longer description (optional). */
  description?: string;
  options?: O;
  /**
   * The global options this command uses, listed in its `--help` (every
   * command accepts all of them): `true` for the standard text, or this
   * command's own description (e.g. `sign`'s `--key` is the private key).
   * `--json`, `-q`, `--debug` and `--help` are always listed.
   */
  globals?: Record<string, true | string>;
  /** Environment variables the command reads → what for (listed in `--help`). */
  env?: Record<string, string>;
  /** Allowed positional count. */
  positionals: { min: number; max: number; names?: string };
  examples: string[];
  /** The minimal Deno permission set this command needs. */
  permissions: string;
  /** Does work; returns the exit code. Throws DzError for user-facing failures. */
  run(ctx: CommandContext<O>): Promise<number>;
}

function flagText(name: string, spec: OptionSpec): string {
  return `${spec.short ? `-${spec.short}, ` : "    "}--${name}${
    spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : ""
  }`;
}

/** Options always listed in a command's help. */
const ALWAYS_LISTED = ["json", "quiet", "debug", "help"];

/** The global options a command's help lists, with its descriptions. */
export function listedGlobals(spec: CommandSpec): [string, OptionSpec][] {
  const named = spec.globals ?? {};
  return Object.entries(GLOBAL_OPTIONS).flatMap(([n, s]): [string, OptionSpec][] => {
    const own = named[n];
    if (typeof own === "string") return [[n, { ...s, description: own }]];
    return own === true || ALWAYS_LISTED.includes(n) ? [[n, s]] : [];
  });
}

/** Rows `[left, right]` as two aligned columns. */
export function columns(rows: [string, string][], indent = "  "): string[] {
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `${indent}${l.padEnd(width)}  ${r}`.trimEnd());
}

/** The `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  const lines = [
    `${PROGRAM} ${spec.name}: ${spec.summary}`,
    "",
    `Usage: ${PROGRAM} ${spec.usage}`,
  ];
  if (spec.description) lines.push("", spec.description);
  const own = Object.entries(spec.options ?? {});
  const globals = listedGlobals(spec);
  // One column width for both blocks.
  const all = columns([...own, ...globals].map(([n, s]) => [flagText(n, s), s.description]));
  if (own.length) lines.push("", "Options:", ...all.slice(0, own.length));
  lines.push("", "Global options (also accepted before the command name):");
  lines.push(...all.slice(own.length));
  const env = Object.entries(spec.env ?? {});
  if (env.length) lines.push("", "Environment:", ...columns(env));
  lines.push("", "Examples:");
  for (const e of spec.examples) lines.push(`  ${e}`);
  lines.push("", "Deno permissions needed:", `  ${spec.permissions}`);
  lines.push(
    "",
    "Exit status: 0 success, 1 not verified / refused, 2 usage error, 3 other failure, 130 interrupted.",
  );
  return lines.join("\n");
}

const encoder = new TextEncoder();

function writeSync(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const data = encoder.encode(text.endsWith("\n") ? text : `${text}\n`);
  let off = 0;
  while (off < data.length) off += file.writeSync(data.subarray(off));
}

/** `HOST[:PORT]`: a DNS name, IPv4 or bracketed IPv6 address, optional port. */
const HOST_PORT =
  /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*)(?::[0-9]{1,5})?$/;

function parseGlobal(values: Record<string, unknown>, run: RunEnvironment): GlobalOptions {
  const env = run.env ?? readEnvExact;
  const progress = (values.progress as string | undefined) ?? "auto";
  if (!["auto", "plain", "none"].includes(progress)) {
    throw new UsageError(`--progress must be auto, plain or none, not '${progress}'`);
  }
  const insecure = (values["insecure-registry"] as string[] | undefined) ?? [];
  for (const h of insecure) {
    const port = Number(/:([0-9]+)$/.exec(h)?.[1] ?? "1");
    if (!HOST_PORT.test(h) || port < 1 || port > 65535) {
      throw new UsageError(`--insecure-registry '${h}' is not HOST[:PORT]`, {
        hint: "give a registry host name or address, e.g. --insecure-registry 10.0.0.5:5000",
      });
    }
  }
  const text = (name: string) => {
    const v = values[name] as string | undefined;
    if (v === "") throw new UsageError(`--${name} needs a value`);
    return v;
  };
  const timeout = text("timeout");
  if (timeout !== undefined && !(/^\d+(\.\d+)?$/.test(timeout) && Number(timeout) > 0)) {
    throw new UsageError(`--timeout must be a number of seconds above 0, not '${timeout}'`);
  }
  return {
    dataDir: text("data-dir") ?? defaultDataDir(env),
    key: text("key"),
    trustedRoot: text("trusted-root"),
    runtime: text("runtime"),
    authFile: text("authfile"),
    insecureRegistries: insecure,
    signedIdentities: (values["signed-identity"] as string[] | undefined) ?? [],
    proxy: text("proxy"),
    ...(timeout !== undefined ? { timeoutSeconds: Number(timeout) } : {}),
    json: Boolean(values.json),
    quiet: Boolean(values.quiet),
    progressMode: progress as ProgressMode,
    debug: Boolean(values.debug),
    env,
    ...(run.retry ? { retry: run.retry } : {}),
  };
}

/**
 * What a command reads from outside its arguments: environment variables
 * (default: this process's) and the registry retry policy (default: the
 * documented one). Tests pass their own instead of setting process-wide state.
 */
export type RunEnvironment = Pick<GlobalOptions, "env" | "retry">;

/** Output sinks (and, optionally, the run's environment); tests may replace them. */
export interface Sinks extends RunEnvironment {
  out(text: string): void;
  err(text: string): void;
}

const defaultSinks: Sinks = {
  out: (t) => writeSync(Deno.stdout, t),
  err: (t) => writeSync(Deno.stderr, t),
};

/** A runnable command: `main(args)` resolves to the exit code. */
export interface Command {
  spec: CommandSpec;
  main(args: string[], sinks?: Sinks): Promise<number>;
}

/** Every option a command accepts: the global ones and its own. */
export function acceptedOptions(spec: CommandSpec): Record<string, OptionSpec> {
  return { ...GLOBAL_OPTIONS, ...(spec.options ?? {}) };
}

/**
 * The values of `specs` as parsed: a boolean absent is its `default` (false
 * unless set), a repeatable option absent is an empty list.
 */
function ownValues<O extends OptionSpecs>(
  specs: O | undefined,
  values: Record<string, unknown>,
): OptionValues<O> {
  const own: Record<string, string | boolean | string[] | undefined> = {};
  for (const [n, s] of Object.entries(specs ?? {})) {
    const v = values[n] as string | boolean | string[] | undefined;
    own[n] = s.type === "boolean"
      ? (v === undefined ? s.default ?? false : v === true)
      : s.multiple
      ? (v as string[] | undefined) ?? []
      : v;
  }
  return own as OptionValues<O>;
}

/** Build the `main` of a command from its spec; `run` gets options typed from `spec.options`. */
export function defineCommand<const O extends OptionSpecs = Record<never, OptionSpec>>(
  spec: CommandSpec<O>,
): Command {
  const main = async (args: string[], sinks: Sinks = defaultSinks): Promise<number> => {
    let debug = args.includes("--debug");
    let json = args.includes("--json");
    try {
      const parsed = parseArguments(args, acceptedOptions(spec), `${PROGRAM} ${spec.name} --help`);
      const values = parsed.values;
      if (values.help) {
        sinks.out(helpText(spec));
        return 0;
      }
      const global = parseGlobal(values, sinks);
      debug = global.debug;
      json = global.json;
      const { min, max, names } = spec.positionals;
      if (parsed.positionals.length < min) {
        throw new UsageError(`missing ${names ?? "argument"}`, {
          hint: `usage: ${PROGRAM} ${spec.usage}`,
        });
      }
      if (parsed.positionals.length > max) {
        throw new UsageError(`unexpected argument '${parsed.positionals[max]}'`, {
          hint: `usage: ${PROGRAM} ${spec.usage}`,
        });
      }
      const own = ownValues(spec.options, values);
      // -q: prose is dropped; a --json document is still printed.
      const out = global.quiet && !global.json ? () => {} : sinks.out;
      // SIGINT / SIGTERM: the work rejects, its finally-blocks run, one line, exit 130.
      return await runInterruptible(() =>
        spec.run({
          args: parsed.positionals,
          options: own,
          global,
          // With --json or -q, bars stay off; notes (a lock wait…) still reach stderr.
          progress: createProgress(
            global.progressMode,
            undefined,
            json || global.quiet ? false : undefined,
          ),
          out,
          err: sinks.err,
        }), { dataDir: global.dataDir, err: sinks.err });
    } catch (error) {
      sinks.err(errorLine(spec.name, error));
      if (debug && error instanceof Error && error.stack) {
        sinks.err(error.stack);
        let c = error.cause;
        while (c instanceof Error) {
          sinks.err(`caused by: ${c.stack ?? c.message}`);
          c = c.cause;
        }
      }
      if (json) sinks.out(JSON.stringify(errorDocument(error)));
      return exitCodeOf(error);
    }
  };
  return { spec: spec as unknown as CommandSpec, main };
}

/**
 * Run a command as a program's entry point (for `import.meta.main`): sets
 * `Deno.exitCode`, so the process ends with it once pending work is done.
 */
export async function runAsMain(command: Command): Promise<void> {
  Deno.exitCode = await command.main(Deno.args);
}

export { EXIT_USAGE };
