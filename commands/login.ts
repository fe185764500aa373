/**
 * `login`: check and store registry credentials.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `login` command. */
export const command = defineCommand({
  name: "login",
  summary: "check and store registry credentials",
  usage: "login REGISTRY -u USER (--password-stdin | --password P)",
  options: {
    "username": { type: "string", short: "u", value: "USER", description: "user name" },
    "password": {
      type: "string",
      short: "p",
      value: "P",
      description: "password (prefer --password-stdin: arguments are visible to other users)",
    },
    "password-stdin": { type: "boolean", description: "read the password from standard input" },
  },
  positionals: { min: 1, max: 1, names: "REGISTRY" },
  examples: [
    'echo "$TOKEN" | dangerzone-image login ghcr.io -u me --password-stdin',
  ],
  permissions:
    "--allow-net=<registry host> --allow-read=<auth file> --allow-write=<auth file dir> --allow-env",
  run() {
    return Promise.reject(new NotImplementedError("'login'"));
  },
});

if (import.meta.main) await runAsMain(command);
