/**
 * The command edge: argument parsing (`node:util` `parseArgs`), global
 * options, `--help`, and turning errors into one line and an exit code.
 * Commands declare a {@linkcode CommandSpec}; {@linkcode defineCommand}
 * returns the `main(args)` that `mod.ts` (or the module itself, when run on
 * its own) calls. Nothing here exits the process.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DzError, EXIT_OTHER, EXIT_USAGE, UsageError } from "./errors.ts";
import { createProgress, type Progress, type ProgressMode } from "./progress.ts";
import { defaultDataDir } from "../config/paths.ts";
import { runInterruptible } from "./interrupt.ts";

/** Program name as users type it. */
export const PROGRAM = "dangerzone-image";

/** One command-specific flag. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `FILE`. */
  value?: string;
  description: string;
}

/** Options every command accepts (`../shared/cli.md`, "Global options"). */
export interface GlobalOptions {
  dataDir: string;
  key?: string;
  trustedRoot?: string;
  runtime?: string;
  insecureRegistries: string[];
  /** `--signed-identity`: other repositories whose signatures are accepted. */
  signedIdentities?: string[];
  proxy?: string;
  /** Total network time budget of the command, in seconds (`--timeout`). */
  timeoutSeconds?: number;
  json: boolean;
  progressMode: ProgressMode;
  debug: boolean;
}

/** What a command's `run` receives. */
export interface CommandContext {
  /** Positional arguments. */
  args: string[];
  /** Command-specific options, by long name. */
  options: Record<string, string | boolean | string[] | undefined>;
  global: GlobalOptions;
  progress: Progress;
  /** Print one line (or block) on stdout. */
  out(text: string): void;
  /** Print one line on stderr. */
  err(text: string): void;
}

/** A command's declaration. */
export interface CommandSpec {
  name: string;
  summary: string;
  /** Usage line after the program name, e.g. `upgrade IMAGE [--tag TAG]`. */
  usage: string;
  /** Longer description (optional). */
  description?: string;
  options?: Record<string, OptionSpec>;
  /** Allowed positional count. */
  positionals: { min: number; max: number; names?: string };
  examples: string[];
  /** The minimal Deno permission set this command needs. */
  permissions: string;
  /** Does work; returns the exit code. Throws DzError for user-facing failures. */
  run(ctx: CommandContext): Promise<number>;
}

/** The global options, as `parseArgs` specs with help text. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  "data-dir": {
    type: "string",
    value: "DIR",
    description:
      "where signatures and rollback state live (default $DANGERZONE_IMAGE_DATA_DIR, $XDG_DATA_HOME/dangerzone, ~/.local/share/dangerzone)",
  },
  key: {
    type: "string",
    value: "FILE",
    description: "trusted cosign public key (default: Dangerzone's published key)",
  },
  "trusted-root": {
    type: "string",
    value: "FILE",
    description: "Sigstore trusted_root.json (default: the public-good root, embedded)",
  },
  runtime: {
    type: "string",
    value: "R",
    description:
      "podman, docker, or oci:DIR (default: podman, else docker, else oci:<data-dir>/images)",
  },
  "insecure-registry": {
    type: "string",
    multiple: true,
    value: "HOST[:PORT]",
    description: "allow plain HTTP to that registry (repeatable; loopback always allowed)",
  },
  "signed-identity": {
    type: "string",
    multiple: true,
    value: "REPO",
    description:
      "also accept signatures made for REPO (a mirror, a renamed image; repeatable; default: the image's own repository)",
  },
  proxy: {
    type: "string",
    value: "URL",
    description: "http://, https:// or socks5h:// proxy (default $HTTPS_PROXY / $ALL_PROXY)",
  },
  timeout: {
    type: "string",
    value: "SECONDS",
    description: "total time budget for the command's network transfers (default 3600)",
  },
  json: { type: "boolean", description: "one JSON document on stdout instead of prose" },
  progress: {
    type: "string",
    value: "MODE",
    description: "auto (bars on a TTY), plain (lines), none (default auto)",
  },
  debug: { type: "boolean", description: "show stack traces and request logs on stderr" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

function optionLine(name: string, spec: OptionSpec): string {
  const flag = `${spec.short ? `-${spec.short}, ` : "    "}--${name}${
    spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : ""
  }`;
  return `  ${flag.padEnd(32)} ${spec.description}`;
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
  if (own.length) {
    lines.push("", "Options:");
    for (const [n, s] of own) lines.push(optionLine(n, s));
  }
  lines.push("", "Global options:");
  for (const [n, s] of Object.entries(GLOBAL_OPTIONS)) lines.push(optionLine(n, s));
  lines.push("", "Examples:");
  for (const e of spec.examples) lines.push(`  ${e}`);
  lines.push("", "Deno permissions needed:", `  ${spec.permissions}`);
  lines.push(
    "",
    "Exit status: 0 success, 1 not verified / refused, 2 usage error, 3 other failure.",
  );
  return lines.join("\n");
}

const encoder = new TextEncoder();

function writeSync(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const data = encoder.encode(text.endsWith("\n") ? text : `${text}\n`);
  let off = 0;
  while (off < data.length) off += file.writeSync(data.subarray(off));
}

/** Render an error as the one line users see (plus its hint). */
export function errorLine(command: string, error: unknown): string {
  if (error instanceof DzError) {
    return `${PROGRAM} ${command}: ${error.message}${error.hint ? ` (${error.hint})` : ""}`;
  }
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return `${PROGRAM} ${command}: permission denied: ${
      (error as Error).message
    } (run with the permissions listed in --help)`;
  }
  const msg = error instanceof Error ? error.message : String(error);
  return `${PROGRAM} ${command}: unexpected error: ${msg} (rerun with --debug and report it)`;
}

/** Exit code for any thrown value. */
export function exitCodeOf(error: unknown): number {
  return error instanceof DzError ? error.exitCode : EXIT_OTHER;
}

function parseGlobal(values: Record<string, unknown>): GlobalOptions {
  const progress = (values.progress as string | undefined) ?? "auto";
  if (!["auto", "plain", "none"].includes(progress)) {
    throw new UsageError(`--progress must be auto, plain or none, not '${progress}'`);
  }
  const timeout = values.timeout as string | undefined;
  if (timeout !== undefined && !(/^\d+(\.\d+)?$/.test(timeout) && Number(timeout) > 0)) {
    throw new UsageError(`--timeout must be a number of seconds above 0, not '${timeout}'`);
  }
  return {
    dataDir: (values["data-dir"] as string | undefined) ?? defaultDataDir(),
    key: values.key as string | undefined,
    trustedRoot: values["trusted-root"] as string | undefined,
    runtime: values.runtime as string | undefined,
    insecureRegistries: (values["insecure-registry"] as string[] | undefined) ?? [],
    signedIdentities: (values["signed-identity"] as string[] | undefined) ?? [],
    proxy: values.proxy as string | undefined,
    timeoutSeconds: timeout === undefined ? undefined : Number(timeout),
    json: Boolean(values.json),
    progressMode: progress as ProgressMode,
    debug: Boolean(values.debug),
  };
}

/** Output sinks; tests may replace them. */
export interface Sinks {
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

/** Build the `main` of a command from its spec. */
export function defineCommand(spec: CommandSpec): Command {
  const main = async (args: string[], sinks: Sinks = defaultSinks): Promise<number> => {
    let debug = args.includes("--debug");
    let json = args.includes("--json");
    try {
      const options: Record<
        string,
        { type: "string" | "boolean"; short?: string; multiple?: boolean }
      > = {};
      for (const [n, s] of Object.entries({ ...GLOBAL_OPTIONS, ...(spec.options ?? {}) })) {
        options[n] = {
          type: s.type,
          ...(s.short ? { short: s.short } : {}),
          ...(s.multiple ? { multiple: true } : {}),
        };
      }
      let parsed;
      try {
        parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
      } catch (e) {
        throw new UsageError(`${(e as Error).message.split("\n")[0]}`, {
          hint: `see '${PROGRAM} ${spec.name} --help'`,
        });
      }
      const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
      if (values.help) {
        sinks.out(helpText(spec));
        return 0;
      }
      const global = parseGlobal(values);
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
      const own: Record<string, string | boolean | string[] | undefined> = {};
      for (const n of Object.keys(spec.options ?? {})) own[n] = values[n];
      // SIGINT / SIGTERM: the work rejects, its finally-blocks run, one line, exit 130.
      return await runInterruptible(() =>
        spec.run({
          args: parsed.positionals,
          options: own,
          global,
          // With --json, bars stay off; notes (a lock wait…) still reach stderr.
          progress: createProgress(global.progressMode, undefined, json ? false : undefined),
          out: sinks.out,
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
      if (json) {
        const code = error instanceof DzError ? error.code : "INTERNAL";
        const message = error instanceof Error ? error.message : String(error);
        sinks.out(JSON.stringify({ ok: false, error: { code, message } }));
      }
      return exitCodeOf(error);
    }
  };
  return { spec, main };
}

/**
 * Run a command as a program's entry point (for `import.meta.main`): sets
 * `Deno.exitCode`, so the process ends with it once pending work is done.
 */
export async function runAsMain(command: Command): Promise<void> {
  Deno.exitCode = await command.main(Deno.args);
}

export { EXIT_USAGE };
