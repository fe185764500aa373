/**
 * `deno run -A scripts/gen_cli_docs.ts`: regenerate the
 * "## Global options" table and the "## Commands" sections of `docs/cli.md`
 * from the command specs (`lib/cli/commands.ts`, `lib/cli/global_options.ts`),
 * and the "## Error codes" table from the catalogue (`lib/errors/codes.ts`,
 * exit statuses from `lib/cli/exit_codes.ts`), keeping the hand-written parts
 * around them. Run `deno fmt docs/cli.md`
 * after writing (`tests/cli_options_test.ts` checks every command and option
 * is documented).
 *
 * @module
 */

import { COMMANDS } from "../lib/cli/commands.ts";
import { GLOBAL_OPTIONS, PROGRAM } from "../lib/cli/global_options.ts";
import type { CommandSpec, OptionSpec } from "../lib/cli/command.ts";
import { ERROR_CODES, type ErrorCategory, type ErrorCode } from "../lib/errors/codes.ts";
import { EXIT_STATUS } from "../lib/cli/exit_codes.ts";

const DOC = new URL("../docs/cli.md", import.meta.url);

function flag(name: string, s: OptionSpec): string {
  return `${s.short ? `-${s.short}, ` : ""}--${name}${
    s.type === "string" ? ` ${s.value ?? "VALUE"}` : ""
  }`;
}

function table(rows: [string, string][], head: [string, string]): string[] {
  const esc = (t: string) => t.replace(/\|/g, "\\|");
  return [
    `| ${head[0]} | ${head[1]} |`,
    "| --- | --- |",
    ...rows.map(([a, b]) => `| \`${esc(a)}\` | ${esc(b)} |`),
  ];
}

function section(spec: CommandSpec): string {
  const lines = [
    `### ${spec.name}`,
    "",
    `${spec.summary[0].toUpperCase()}${spec.summary.slice(1)}.`,
    "",
  ];
  lines.push("```", `${PROGRAM} ${spec.usage}`, "```", "");
  if (spec.description) lines.push(spec.description, "");
  const own = Object.entries(spec.options ?? {});
  if (own.length) {
    lines.push(
      ...table(own.map(([n, s]) => [flag(n, s), s.description]), ["option", "meaning"]),
      "",
    );
  }
  const globals = Object.keys(spec.globals ?? {});
  if (globals.length) {
    lines.push(`Global options it uses: ${globals.map((g) => `\`--${g}\``).join(", ")}.`, "");
  }
  const env = Object.keys(spec.env ?? {});
  if (env.length) lines.push(`Environment: ${env.map((e) => `\`${e}\``).join(", ")}.`, "");
  if (spec.examples.length) lines.push("Examples:", "", "```", ...spec.examples, "```", "");
  lines.push(`Deno permissions: \`${spec.permissions}\``, "");
  return lines.join("\n");
}

/** Categories in the order the table lists them (by exit status). */
const CATEGORY_ORDER: readonly ErrorCategory[] = ["refused", "usage", "failure", "interrupted"];

/** The "## Error codes" section: every catalogue code, its exit status and meaning. */
function errorCodes(): string {
  const esc = (t: string) => t.replace(/\|/g, "\\|");
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  const rows = CATEGORY_ORDER.flatMap((c) =>
    codes.filter((code) => ERROR_CODES[code].category === c).map((code) =>
      `| \`${code}\` | \`${EXIT_STATUS[c]}\` | ${esc(ERROR_CODES[code].description)} |`
    )
  );
  return [
    "## Error codes",
    "",
    "Every failure carries one of these codes (`error.code` with `--json`, see",
    "[json.md](json.md)); the code decides the exit status. Generated from `lib/errors/codes.ts`.",
    "",
    "| code | exit | meaning |",
    "| --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}

/** `current` with its "## Error codes" section replaced (or added after "## Exit status"). */
function withErrorCodes(current: string): string {
  const section = errorCodes();
  let at = current.indexOf("## Error codes");
  if (at < 0) {
    const exit = current.indexOf("## Exit status");
    if (exit < 0) throw new Error("docs/cli.md lacks '## Exit status'");
    at = current.indexOf("\n## ", exit + 1) + 1;
    return `${current.slice(0, at)}${section}\n${current.slice(at)}`;
  }
  const end = current.indexOf("\n## ", at + 1) + 1;
  return `${current.slice(0, at)}${section}\n${current.slice(end)}`;
}

async function render(current: string): Promise<string> {
  current = withErrorCodes(current);
  const globals = [
    "## Global options",
    "",
    "Accepted by every command, before or after the command name (`dangerzone-image --json upgrade …` and",
    "`dangerzone-image upgrade … --json` are the same).",
    "",
    ...table(
      Object.entries(GLOBAL_OPTIONS).map(([n, s]) => [flag(n, s), s.description]),
      ["option", "meaning"],
    ),
    "",
  ].join("\n");
  const sections: string[] = [];
  for (const entry of Object.values(COMMANDS)) {
    sections.push(section((await entry.load()).command.spec));
  }
  const g0 = current.indexOf("## Global options");
  const c0 = current.indexOf("## Commands");
  if (g0 < 0 || c0 < 0) throw new Error("docs/cli.md lacks '## Global options' or '## Commands'");
  const after = current.slice(c0).search(/\n## (?!Commands)/);
  const tail = after < 0 ? "" : current.slice(c0 + after + 1);
  return `${current.slice(0, g0)}${globals}\n${
    current.slice(current.indexOf("\n## ", g0 + 1) + 1, c0)
  }## Commands\n\n${sections.join("\n")}${tail ? `\n${tail}` : ""}`;
}

if (import.meta.main) {
  const current = await Deno.readTextFile(DOC);
  const next = await render(current);
  await Deno.writeTextFile(DOC, next);
}
