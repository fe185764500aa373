/**
 * The options every command accepts, as library code receives them (parsed by
 * the command edge, `lib/cli/command.ts`, from `lib/cli/global_options.ts`).
 *
 * @module
 */

import type { ProgressMode } from "../progress/progress.ts";
import type { EnvReader } from "./paths.ts";

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
  /**
   * Reads the command's environment variables (default: this process's,
   * `readEnvExact`: an empty value is not a missing one); tests pass their own instead of setting
   * process-wide variables.
   */
  env?: EnvReader;
  /**
   * Overrides of the registry retry policy (`lib/registry/retry.ts`
   * `RetryPolicy`; default: 4 retries from 250 ms, `Retry-After` ≤ 30 s).
   */
  retry?: {
    retries?: number;
    baseMs?: number;
    maxRetryAfterMs?: number;
    sleep?: (ms: number) => Promise<void>;
    random?: () => number;
  };
}
