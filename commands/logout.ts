/**
 * `logout`: remove stored registry credentials.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `logout` command. */
export const command = defineCommand({
  name: "logout",
  summary: "remove stored registry credentials",
  usage: "logout REGISTRY",
  options: {},
  positionals: { min: 1, max: 1, names: "REGISTRY" },
  examples: [
    "dangerzone-image logout ghcr.io",
  ],
  permissions: "--allow-read=<auth file> --allow-write=<auth file dir> --allow-env",
  run() {
    return Promise.reject(new NotImplementedError("'logout'"));
  },
});

if (import.meta.main) await runAsMain(command);
