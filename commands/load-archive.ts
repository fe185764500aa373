/**
 * `load-archive`: verify an archive fully offline, then load it.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `load-archive` command. */
export const command = defineCommand({
  name: "load-archive",
  summary: "verify an archive fully offline, then load it",
  usage: "load-archive FILE.tar [--force]",
  options: {
    "force": { type: "boolean", description: "allow a rollback (and nothing else)" },
  },
  positionals: { min: 1, max: 1, names: "FILE.tar" },
  examples: [
    "dangerzone-image load-archive dz.tar",
  ],
  permissions:
    "--allow-read=<archive>,<data dir> --allow-write=<data dir> --allow-run=podman --allow-env (no --allow-net)",
  run() {
    return Promise.reject(new NotImplementedError("'load-archive'"));
  },
});

if (import.meta.main) await runAsMain(command);
