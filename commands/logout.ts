/**
 * `logout`: remove stored registry credentials.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { authFilePath } from "../lib/config/paths.ts";
import { removeCredentials } from "../lib/registry/auth_file.ts";
import { normalizeRegistry } from "../lib/registry/reference.ts";

/** The `logout` command. */
export const command = defineCommand({
  name: "logout",
  summary: "remove stored registry credentials",
  usage: "logout REGISTRY",
  options: {},
  positionals: { min: 1, max: 1, names: "REGISTRY" },
  examples: ["dangerzone-image logout ghcr.io"],
  permissions: "--allow-read=<auth file dir> --allow-write=<auth file dir> --allow-env",
  async run(ctx) {
    const registry = normalizeRegistry(ctx.args[0]);
    const path = authFilePath();
    const removed = await removeCredentials(path, registry);
    if (ctx.global.json) ctx.out(JSON.stringify({ ok: true, registry, removed }));
    else {ctx.out(
        removed ? `Removed login credentials for ${registry}` : `Not logged in to ${registry}`,
      );}
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
