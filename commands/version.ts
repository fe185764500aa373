/**
 * `version`: print the program's version (also `dangerzone-image --version`).
 *
 * @module
 */

import { defineCommand, PROGRAM, runAsMain } from "../lib/cli/command.ts";
import { VERSION } from "../lib/cli/global_options.ts";

/** The `version` command. */
export const command = defineCommand({
  name: "version",
  summary: "print the version",
  usage: "version",
  positionals: { min: 0, max: 0 },
  examples: ["dangerzone-image version", "dangerzone-image --version"],
  permissions: "none",
  run(ctx) {
    if (ctx.global.json) {
      ctx.out(JSON.stringify({ ok: true, version: VERSION, deno: Deno.version.deno }));
    } else ctx.out(`${PROGRAM} ${VERSION}`);
    return Promise.resolve(0);
  },
});

if (import.meta.main) await runAsMain(command);
