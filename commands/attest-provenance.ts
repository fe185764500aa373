/**
 * `attest-provenance`: verify the image's SLSA provenance and print its claims.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `attest-provenance` command. */
export const command = defineCommand({
  name: "attest-provenance",
  summary: "verify the image's SLSA provenance and print its claims",
  usage: "attest-provenance IMAGE --repository OWNER/REPO [--workflow PATH] [--branch NAME]",
  options: {
    "repository": {
      type: "string",
      value: "OWNER/REPO",
      description: "the GitHub repository the image must be built from (required)",
    },
    "workflow": {
      type: "string",
      value: "PATH",
      description: "the workflow file that must have built it, e.g. .github/workflows/release.yml",
    },
    "branch": {
      type: "string",
      value: "NAME",
      description: "the git branch it must be built from",
    },
  },
  positionals: { min: 1, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image attest-provenance ghcr.io/freedomofpress/dangerzone/dangerzone --repository freedomofpress/dangerzone",
    "dangerzone-image attest-provenance oci:./layout@sha256:\u2026 --repository slsa-framework/example-package",
  ],
  permissions:
    "--allow-net=<registry hosts> --allow-read=<trusted root, oci dir or archive> --allow-env",
  run() {
    return Promise.reject(new NotImplementedError("'attest-provenance'"));
  },
});

if (import.meta.main) await runAsMain(command);
