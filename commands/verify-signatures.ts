/**
 * `verify-signatures`: verify a saved signature list for a digest, offline.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `verify-signatures` command. */
export const command = defineCommand({
  name: "verify-signatures",
  summary: "verify a saved signature list for a digest, offline",
  usage: "verify-signatures FILE.json --digest sha256:\u2026",
  options: {
    "digest": {
      type: "string",
      value: "sha256:HEX",
      description: "the image digest every signature must cover (required)",
    },
  },
  positionals: { min: 1, max: 1, names: "FILE.json" },
  examples: [
    "dangerzone-image verify-signatures --key test.pub.key sigs.json --digest sha256:95b4\u2026",
  ],
  permissions: "--allow-read=<signature file>,<key>,<trusted root>",
  run() {
    return Promise.reject(new NotImplementedError("'verify-signatures'"));
  },
});

if (import.meta.main) await runAsMain(command);
