/**
 * Dangerzone's rollback state, `<data-dir>/signatures/last_log_index`: a
 * decimal integer, the largest log index of the installed image's
 * signatures. Read as a floor and written on every install, so that this
 * tool and Dangerzone follow each other (`../shared/cli.md`, data directory).
 *
 * Which floor applies ({@linkcode floorFor}):
 * - the file holds a value this tool did not write (Dangerzone moved it, or
 *   left it before this tool ran): that value, compared as Dangerzone does,
 *   with the candidate's largest index in any log;
 * - no such value, and no state of our own for the image: Dangerzone's
 *   `LAST_KNOWN_LOG_INDEX`, in the public-good Rekor log only;
 * - otherwise our own per-image state is at least as informed: no floor.
 *
 * The last value written is remembered in `<data-dir>/rollback/last_log_index.json`.
 *
 * @module
 */

import { join } from "node:path";
import { LocalStateError } from "../errors/errors.ts";
import { PRIVATE, writeFileAtomic } from "../fs/atomic.ts";
import { readTextIfExists } from "../fs/read_file.ts";
import type { LogIndexFloor } from "./rollback_state.ts";

/** Dangerzone's floor when it has no `last_log_index` file (`LAST_KNOWN_LOG_INDEX`). */
export const LAST_KNOWN_LOG_INDEX = 2023689270;

/** Log ID (hex) of the public-good Rekor log (rekor.sigstore.dev). */
export const PUBLIC_GOOD_REKOR_LOG_ID =
  "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d";

/** `<data-dir>/signatures/last_log_index`. */
export function lastLogIndexPath(dataDir: string): string {
  return join(dataDir, "signatures", "last_log_index");
}

function writtenPath(dataDir: string): string {
  return join(dataDir, "rollback", "last_log_index.json");
}

/**
 * The file's value, or undefined without a file.
 * @throws LocalStateError (`LOCAL_STATE_TAMPERED`) when it is not a decimal integer (never read
 * as absent).
 */
export async function readLastLogIndex(dataDir: string): Promise<number | undefined> {
  const path = lastLogIndexPath(dataDir);
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  const t = text.trim();
  const n = Number(t);
  if (!/^\d{1,16}$/.test(t) || !Number.isSafeInteger(n)) {
    throw new LocalStateError(`${path} is corrupt (not a log index)`, {
      hint: "restore it from a backup or remove it knowingly",
    });
  }
  return n;
}

async function readWritten(dataDir: string): Promise<number | undefined> {
  const text = await readTextIfExists(writtenPath(dataDir));
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text)?.value;
    return Number.isSafeInteger(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The floor that applies to an image (see the module doc). */
export async function floorFor(
  dataDir: string,
  hasOwnState: boolean,
): Promise<LogIndexFloor | undefined> {
  const value = await readLastLogIndex(dataDir);
  if (value !== undefined && value !== await readWritten(dataDir)) {
    return { logIndex: value, source: lastLogIndexPath(dataDir) };
  }
  return hasOwnState ? undefined : {
    logIndex: LAST_KNOWN_LOG_INDEX,
    logID: PUBLIC_GOOD_REKOR_LOG_ID,
    source: "Dangerzone's LAST_KNOWN_LOG_INDEX",
  };
}

/**
 * Write `value` in Dangerzone's format, and remember that this tool wrote it.
 * The caller writes the installed image's SMALLEST authenticated log index,
 * not the largest as Dangerzone does: an attacker can add entries (re-logged
 * twins) above the vendor's next release, never below the vendor's own entry.
 */
export async function writeLastLogIndex(dataDir: string, value: number): Promise<void> {
  await writeFileAtomic(writtenPath(dataDir), JSON.stringify({ value }) + "\n", PRIVATE);
  await writeFileAtomic(lastLogIndexPath(dataDir), `${value}`, PRIVATE);
}
