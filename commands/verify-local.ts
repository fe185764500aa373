/**
 * `verify-local`: re-check the local image against stored signatures, offline.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `verify-local` command. */
export const command = defineCommand({
  name: "verify-local",
  summary: "re-check the local image against stored signatures, offline",
  usage: "verify-local IMAGE",
  options: {},
  positionals: { min: 1, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image verify-local ghcr.io/freedomofpress/dangerzone/dangerzone:latest",
  ],
  permissions: "--allow-read=<data dir> --allow-run=podman --allow-env",
  run() {
    return Promise.reject(new NotImplementedError("'verify-local'"));
  },
});

if (import.meta.main) await runAsMain(command);
