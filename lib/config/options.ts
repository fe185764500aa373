/**
 * The options every command accepts, as library code receives them (parsed by
 * the command edge, `lib/cli/command.ts`, from `lib/cli/global_options.ts`).
 *
 * @module
 */

import type { ProgressMode } from "../progress/progress.ts";

/** Options every command accepts (`../shared/cli.md`, "Global options"). */
export interface GlobalOptions {
  dataDir: string;
  key?: string;
  trustedRoot?: string;
  runtime?: string;
  /** `--authfile`: the registry credentials file (default: {@linkcode authFilePath}). */
  authFile?: string;
  insecureRegistries: string[];
  /** `--signed-identity`: other repositories whose signatures are accepted. */
  signedIdentities?: string[];
  proxy?: string;
  /** Total network time budget of the command, in seconds (`--timeout`). */
  timeoutSeconds?: number;
  json: boolean;
  /** `-q`: no prose on stdout (errors and `--json` documents still printed). */
  quiet?: boolean;
  progressMode: ProgressMode;
  debug: boolean;
}
