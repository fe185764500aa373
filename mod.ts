/**
 * dangerzone-image: keep a container image up to date safely, online and on
 * air-gapped machines. `deno run mod.ts <command> …` dispatches to
 * `commands/<command>.ts`, importing only that command (fast `--help`).
 *
 * @module
 */

import { GLOBAL_OPTIONS, PROGRAM } from "./lib/cli/global_options.ts";
import { closest } from "./lib/cli/args.ts";
import { COMMANDS } from "./lib/cli/commands.ts";
import meta from "./deno.json" with { type: "json" };

/**
 * This program's version: `deno.json`'s, its one home (a JSON module: the
 * bundle inlines it, `deno compile` embeds it, a run from a URL fetches it).
 */
export const VERSION: string = meta.version;

export { COMMANDS };

/** Top-level help. */
export function usage(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    "dangerzone-image: keep a container image up to date safely, online and air-gapped",
    "",
    "Usage: dangerzone-image [global options] <command> [options] [arguments]",
    "",
    "Commands:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`),
    "  help COMMAND".padEnd(width + 2) + "  show a command's options",
    "",
    "Global options (before or after the command name): " +
    Object.keys(GLOBAL_OPTIONS).filter((n) => n !== "help").map((n) => `--${n}`).join(", "),
    "Run 'dangerzone-image help <command>' for a command's options, environment and permissions.",
    "Exit status: 0 success, 1 not verified / refused, 2 usage error, 3 other failure, 130 interrupted.",
    "Reference: docs/cli.md (commands, options, files), docs/json.md (--json documents).",
  ].join("\n");
}

/**
 * Split `args` into the command name and the rest, skipping global options
 * (and their values) given before it: `--json upgrade IMAGE` → `upgrade`,
 * `[--json, IMAGE]`. Options keep their order.
 */
export function splitCommand(args: readonly string[]): { name?: string; rest: string[] } {
  const byShort = new Map(
    Object.entries(GLOBAL_OPTIONS).flatMap(([n, s]) => s.short ? [[s.short, n]] : []),
  );
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") break;
    if (!a.startsWith("-") || a === "-") {
      return { name: a, rest: [...args.slice(0, i), ...args.slice(i + 1)] };
    }
    const long = a.startsWith("--") ? a.slice(2) : byShort.get(a.slice(1));
    const spec = long !== undefined && Object.hasOwn(GLOBAL_OPTIONS, long)
      ? GLOBAL_OPTIONS[long]
      : undefined;
    if (spec?.type === "string" && !a.includes("=")) i++; // its value
  }
  return { rest: [...args] };
}

function printErr(text: string): void {
  console.error(text);
}

function unknownCommand(name: string): number {
  const near = closest(name, Object.keys(COMMANDS));
  printErr(
    `${PROGRAM}: unknown command '${name}'${near ? ` (did you mean '${near}'?)` : ""} ` +
      `(run '${PROGRAM} --help' for the list)`,
  );
  return 2;
}

/** Dispatch `args` to a command; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const { name, rest } = splitCommand(args);
  if (name === undefined) {
    if (rest.includes("--version") || rest.includes("-V")) {
      console.log(`${PROGRAM} ${VERSION}`);
      return 0;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      console.log(usage());
      return 0;
    }
    // No command: usage on stderr, exit 2 (also for an option with no command).
    const stray = rest.find((a) => a.startsWith("-"));
    if (stray && !Object.hasOwn(GLOBAL_OPTIONS, stray.replace(/^--?/, "").split("=")[0])) {
      printErr(`${PROGRAM}: unknown option ${stray.split("=")[0]} (run '${PROGRAM} --help')`);
      return 2;
    }
    printErr(usage());
    return 2;
  }
  if (name === "help") {
    const topic = rest.find((a) => !a.startsWith("-"));
    if (topic === undefined) {
      console.log(usage());
      return 0;
    }
    if (!Object.hasOwn(COMMANDS, topic)) return unknownCommand(topic);
    const [{ command }, { helpText }] = await Promise.all([
      COMMANDS[topic].load(),
      import("./lib/cli/command.ts"),
    ]);
    console.log(helpText(command.spec));
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) return unknownCommand(name);
  const { command } = await entry.load();
  return await command.main(rest);
}
if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
