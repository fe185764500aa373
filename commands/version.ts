/**
 * `version`: print the program's version (also `dangerzone-image --version`).
 *
 * @module
 */

import { defineCommand, PROGRAM, runAsMain } from "../lib/cli/command.ts";
import meta from "../deno.json" with { type: "json" };

/** The `version` command. */
export const command = defineCommand({
  name: "version",
  summary: "print the version",
  usage: "version",
  positionals: { min: 0, max: 0 },
  examples: ["dangerzone-image version", "dangerzone-image --version"],
  permissions: "none",
  run(ctx) {
    const version = meta.version; // deno.json is the version's one home
    if (ctx.global.json) {
      ctx.out(JSON.stringify({ ok: true, version, deno: Deno.version.deno }));
    } else ctx.out(`${PROGRAM} ${version}`);
    return Promise.resolve(0);
  },
});

if (import.meta.main) await runAsMain(command);
