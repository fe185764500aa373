/**
 * `upgrade`: install the newest signed image, refusing rollbacks.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `upgrade` command. */
export const command = defineCommand({
  name: "upgrade",
  summary: "install the newest signed image, refusing rollbacks",
  usage: "upgrade IMAGE [--tag latest] [--platform OS/ARCH]",
  options: {
    "tag": { type: "string", value: "TAG", description: "the tag to follow (default latest)" },
    "platform": {
      type: "string",
      value: "OS/ARCH",
      description: "platform to install from a multi-arch image (default: this machine's)",
    },
  },
  positionals: { min: 1, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image upgrade ghcr.io/freedomofpress/dangerzone/dangerzone",
  ],
  permissions:
    "--allow-net=<registry host> --allow-read=<data dir>,<auth file> --allow-write=<data dir> --allow-run=podman --allow-env",
  run() {
    return Promise.reject(new NotImplementedError("'upgrade'"));
  },
});

if (import.meta.main) await runAsMain(command);
