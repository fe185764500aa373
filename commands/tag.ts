/**
 * `tag`: point a tag at a manifest without moving blobs.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `tag` command. */
export const command = defineCommand({
  name: "tag",
  summary: "point a tag at a manifest without moving blobs",
  usage: "tag IMAGE@DIGEST TAG",
  options: {},
  positionals: { min: 2, max: 2, names: "IMAGE@DIGEST and TAG" },
  examples: [
    "dangerzone-image tag ghcr.io/me/app@sha256:\u2026 latest",
  ],
  permissions: "--allow-net=<registry host> --allow-read=<auth file> --allow-env",
  run() {
    return Promise.reject(new NotImplementedError("'tag'"));
  },
});

if (import.meta.main) await runAsMain(command);
