/**
 * `prepare-archive`: write one tar with the image and all that verifies it.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `prepare-archive` command. */
export const command = defineCommand({
  name: "prepare-archive",
  summary: "write one tar with the image and all that verifies it",
  usage:
    "prepare-archive --output FILE.tar IMAGE[@sha256:\u2026] [--platform OS/ARCH | --all-platforms]",
  options: {
    "output": {
      type: "string",
      short: "o",
      value: "FILE.tar",
      description: "the archive to write (required)",
    },
    "platform": {
      type: "string",
      value: "OS/ARCH",
      description: "platform to keep (default linux/amd64)",
    },
    "all-platforms": { type: "boolean", description: "keep every platform" },
  },
  positionals: { min: 1, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image prepare-archive --output dz.tar ghcr.io/freedomofpress/dangerzone/dangerzone@sha256:\u2026",
  ],
  permissions:
    "--allow-net=<registry host> --allow-read=<auth file>,<output dir> --allow-write=<output dir> --allow-env",
  run() {
    return Promise.reject(new NotImplementedError("'prepare-archive'"));
  },
});

if (import.meta.main) await runAsMain(command);
