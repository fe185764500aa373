/**
 * `version`: print the program's version (also `dangerzone-image --version`).
 *
 * @module
 */

import { defineCommand, PROGRAM, runAsMain } from "../lib/cli/command.ts";

/** The `version` command. */
export const command = defineCommand({
  name: "version",
  summary: "print the version",
  usage: "version",
  positionals: { min: 0, max: 0 },
  examples: ["dangerzone-image version", "dangerzone-image --version"],
  permissions: "none",
  async run(ctx) {
    // deno.json is the version's one home; loaded only here (see mod.ts's programVersion).
    const { version } = (await import("../deno.json", { with: { type: "json" } })).default;
    if (ctx.global.json) {
      ctx.out(JSON.stringify({ ok: true, version, deno: Deno.version.deno }));
    } else ctx.out(`${PROGRAM} ${version}`);
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
