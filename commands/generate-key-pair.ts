/**
 * `generate-key-pair`: write a cosign-compatible encrypted key pair.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `generate-key-pair` command. */
export const command = defineCommand({
  name: "generate-key-pair",
  summary: "write a cosign-compatible encrypted key pair",
  usage: "generate-key-pair [--output-key-prefix NAME]",
  options: {
    "output-key-prefix": {
      type: "string",
      value: "NAME",
      description: "write NAME.key and NAME.pub (default cosign)",
    },
  },
  positionals: { min: 0, max: 0 },
  examples: [
    "COSIGN_PASSWORD=\u2026 dangerzone-image generate-key-pair --output-key-prefix release",
  ],
  permissions: "--allow-write=<output dir> --allow-env=COSIGN_PASSWORD",
  run() {
    return Promise.reject(new NotImplementedError("'generate-key-pair'"));
  },
});

if (import.meta.main) await runAsMain(command);
