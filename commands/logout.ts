/**
 * `logout`: remove stored registry credentials.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { authFilePath } from "../lib/config/paths.ts";
import { removeAllCredentials, removeCredentials } from "../lib/registry/auth_file.ts";
import { normalizeRegistry } from "../lib/registry/reference.ts";

/** The `logout` command. */
export const command = defineCommand({
  name: "logout",
  summary: "remove stored registry credentials",
  usage: "logout REGISTRY | --all",
  options: {
    all: { type: "boolean", description: "remove the credentials of every registry" },
  },
  globals: { authfile: "the credentials file to edit" },
  env: { "REGISTRY_AUTH_FILE, DOCKER_CONFIG": "the credentials file (default for --authfile)" },
  positionals: { min: 0, max: 1, names: "REGISTRY" },
  examples: ["dangerzone-image logout ghcr.io", "dangerzone-image logout --all"],
  permissions: "--allow-read=<auth file dir> --allow-write=<auth file dir> --allow-env",
  async run(ctx) {
    const path = ctx.global.authFile ?? authFilePath(ctx.global.env);
    const all = ctx.options.all;
    if (all === (ctx.args[0] !== undefined)) {
      throw new UsageError("give REGISTRY or --all (one of them)", {
        hint: "usage: dangerzone-image logout REGISTRY | --all",
      });
    }
    const registries = all
      ? await removeAllCredentials(path)
      : (await removeCredentials(path, normalizeRegistry(ctx.args[0]))
        ? [normalizeRegistry(ctx.args[0])]
        : []);
    if (ctx.global.json) {
      ctx.out(JSON.stringify({ ok: true, registries, removed: registries.length, authFile: path }));
    } else if (registries.length) {
      ctx.out(`Removed login credentials for ${registries.join(", ")} (from ${path})`);
    } else {
      ctx.out(all ? `No stored credentials in ${path}` : `Not logged in to ${ctx.args[0]}`);
    }
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
