/**
 * Access to the real-world test data in `../shared/testdata/` (beside the
 * project root; never copied into the repository). Tests that need it call
 * {@linkcode testdataOrSkip}: on a user's fresh clone without it they are
 * skipped with a message; under `CI=true` its absence is a failure.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** Absolute path of `../shared/testdata` (may not exist). */
export const TESTDATA_DIR: string = fileURLToPath(
  new URL("../../../shared/testdata", import.meta.url),
);

/** Does the shared test data exist here? */
export function testdataPresent(): boolean {
  try {
    return Deno.statSync(TESTDATA_DIR).isDirectory;
  } catch {
    return false;
  }
}

/**
 * The `ignore` value for a `Deno.test` that needs the shared test data:
 * false when present; when absent, true (skipped, with a note on stderr)
 * unless `CI=true`, where a missing `../shared/testdata` must fail loudly.
 */
export function testdataOrSkip(name: string): boolean {
  if (testdataPresent()) return false;
  if (Deno.env.get("CI") === "true") {
    throw new Error(`${TESTDATA_DIR} is missing: under CI=true the shared test data is required`);
  }
  console.error(`skipping '${name}': ${TESTDATA_DIR} is absent (shared test data)`);
  return true;
}

/** Path inside the shared test data. */
export function testdata(...parts: string[]): string {
  return [TESTDATA_DIR, ...parts].join("/");
}
