/**
 * How an error reaches the user at the command edge: OS errors escaping the
 * library made into {@linkcode DzError}s, the one line on stderr, the
 * `--json` failure document, and the exit status.
 *
 * @module
 */

import type { ErrorCode } from "../errors/codes.ts";
import { DzError } from "../errors/errors.ts";
import { exitStatusOf } from "./exit_codes.ts";
import { PROGRAM } from "./global_options.ts";
import { isPermissionError } from "../fs/read_file.ts";

/** A path quoted in an OS error message (`… (os error 28): write '/x'`). */
function quotedPath(message: string): string | undefined {
  return /'([^']+)'\s*$/.exec(message)?.[1];
}

/**
 * An error that is not a {@linkcode DzError} (an OS error escaping the
 * library) as one: a full disk, a missing file, a network refusal.
 */
export function asUserError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof DzError) return error;
  const code = (error as { code?: string }).code;
  const path = quotedPath(error.message);
  if (code === "ENOSPC" || /No space left on device|os error 28/.test(error.message)) {
    return new DzError(
      "NO_SPACE",
      `no space left on the device${path ? ` writing ${path}` : ""}`,
      { hint: "free some space there (or choose another --data-dir / --output) and retry" },
    );
  }
  if (error instanceof Deno.errors.NotFound && path) {
    return new DzError("NOT_FOUND", `${path} does not exist`, {
      hint: "check the path",
    });
  }
  return error;
}

/** Render an error as the one line users see (plus its hint). */
export function errorLine(command: string, error: unknown): string {
  const prefix = command ? `${PROGRAM} ${command}` : PROGRAM;
  error = asUserError(error);
  if (error instanceof DzError) {
    return `${prefix}: ${error.message}${error.hint ? ` (${error.hint})` : ""}`;
  }
  if (isPermissionError(error)) {
    return `${prefix}: permission denied: ${
      (error as Error).message
    } (run with the permissions listed in --help)`;
  }
  const msg = error instanceof Error ? error.message : String(error);
  return `${prefix}: unexpected error: ${msg} (rerun with --debug and report it)`;
}

/** The `--json` document of a failure: `{"ok": false, "error": {code, message, hint}}`. */
export function errorDocument(error: unknown): {
  ok: false;
  error: { code: ErrorCode; message: string; hint: string | null };
} {
  error = asUserError(error);
  if (error instanceof DzError) {
    return {
      ok: false,
      error: { code: error.code, message: error.message, hint: error.hint ?? null },
    };
  }
  const permission = isPermissionError(error);
  return {
    ok: false,
    error: {
      code: permission ? "PERMISSION_DENIED" : "INTERNAL",
      message: error instanceof Error ? error.message : String(error),
      hint: permission
        ? "run with the permissions listed in --help"
        : "rerun with --debug and report it",
    },
  };
}

/** Exit code for any thrown value. */
export function exitCodeOf(error: unknown): number {
  return exitStatusOf(asUserError(error));
}
