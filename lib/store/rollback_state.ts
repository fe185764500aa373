/**
 * Rollback protection state: per transparency log (log ID, hex), the highest
 * log index (and its integrated time) among the signatures of the image
 * installed with a given key. An update whose newest signature sits lower in
 * a log than what is recorded is a rollback (an attacker replaying an older,
 * validly signed, vulnerable image). The state lives beside the signatures,
 * `<data-dir>/signatures/<keyId>/rollback.json`, is replaced atomically, and
 * only moves forward unless the caller forces it (`load-archive --force`).
 *
 * @module
 */

import { join } from "node:path";
import { IoError, RollbackError } from "../cli/errors.ts";
import { signatureDir } from "./signature_store.ts";
import { PRIVATE, writeFileAtomic } from "../fs/atomic.ts";

/** A position in one transparency log. */
export interface LogPosition {
  logIndex: number;
  /** Seconds since the epoch. */
  integratedTime: number;
}

/** A position tagged with its log. */
export interface LoggedPosition extends LogPosition {
  /** Log ID, lowercase hex. */
  logID: string;
}

/** Recorded state: log ID → highest position (plus the image digest it came with). */
export interface RollbackState {
  version: 1;
  logs: Record<string, LogPosition & { digest?: string }>;
}

/** The state file of `keyId`. */
export function rollbackStatePath(dataDir: string, keyId: string): string {
  return join(signatureDir(dataDir, keyId), "rollback.json");
}

function empty(): RollbackState {
  return { version: 1, logs: {} };
}

function isPos(v: unknown): v is LogPosition {
  const p = v as LogPosition;
  return typeof v === "object" && v !== null &&
    Number.isSafeInteger(p.logIndex) && p.logIndex >= 0 &&
    Number.isSafeInteger(p.integratedTime) && p.integratedTime >= 0;
}

/**
 * Read the state (empty when never written).
 * @throws IoError when unreadable or corrupt (a corrupt state is never treated as empty).
 */
export async function readRollbackState(dataDir: string, keyId: string): Promise<RollbackState> {
  const path = rollbackStatePath(dataDir, keyId);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return empty();
    if (cause instanceof Deno.errors.NotCapable || cause instanceof Deno.errors.PermissionDenied) {
      throw cause;
    }
    throw new IoError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new IoError(`rollback state ${path} is corrupt (not JSON)`, {
      cause,
      hint: "restore it from a backup or remove it knowingly",
    });
  }
  const d = doc as RollbackState;
  if (
    typeof doc !== "object" || doc === null || d.version !== 1 || typeof d.logs !== "object" ||
    d.logs === null ||
    Object.entries(d.logs).some(([k, v]) => !/^[0-9a-f]{64}$/.test(k) || !isPos(v))
  ) {
    throw new IoError(`rollback state ${path} is corrupt`, {
      hint: "restore it from a backup or remove it knowingly",
    });
  }
  return d;
}

/** The highest position per log among `positions`. */
export function newestPerLog(positions: readonly LoggedPosition[]): Map<string, LogPosition> {
  const out = new Map<string, LogPosition>();
  for (const p of positions) {
    const cur = out.get(p.logID);
    if (!cur || p.logIndex > cur.logIndex) {
      out.set(p.logID, { logIndex: p.logIndex, integratedTime: p.integratedTime });
    }
  }
  return out;
}

/**
 * Refuse a candidate whose newest entry in some log is older than the
 * recorded one. Logs the state does not know are accepted (first sight).
 * @throws RollbackError
 */
export function assertNotRollback(
  state: RollbackState,
  positions: readonly LoggedPosition[],
): void {
  for (const [logID, pos] of newestPerLog(positions)) {
    const rec = state.logs[logID];
    if (rec && (pos.logIndex < rec.logIndex || pos.integratedTime < rec.integratedTime)) {
      throw new RollbackError(
        `rollback refused: newest signature is at log index ${pos.logIndex} (${
          new Date(pos.integratedTime * 1000).toISOString()
        }), older than the installed one at ${rec.logIndex} (${
          new Date(rec.integratedTime * 1000).toISOString()
        }) in log ${logID.slice(0, 16)}…`,
        { hint: "this image is older than the one installed; use --force only if you mean it" },
      );
    }
  }
}

/** Options of {@linkcode advanceRollbackState}. */
export interface AdvanceOptions {
  /** Allow moving backwards (explicit user request only). */
  force?: boolean;
  /** Image digest the positions belong to (recorded for humans). */
  digest?: string;
}

/**
 * Record the candidate's newest positions: only forward unless `force`.
 * Writes atomically; returns the new state.
 * @throws RollbackError (backwards without force), IoError.
 */
export async function advanceRollbackState(
  dataDir: string,
  keyId: string,
  positions: readonly LoggedPosition[],
  options: AdvanceOptions = {},
): Promise<RollbackState> {
  const state = await readRollbackState(dataDir, keyId);
  if (!options.force) assertNotRollback(state, positions);
  const next: RollbackState = { version: 1, logs: { ...state.logs } };
  for (const [logID, pos] of newestPerLog(positions)) {
    next.logs[logID] = { ...pos, ...(options.digest ? { digest: options.digest } : {}) };
  }
  await writeFileAtomic(
    rollbackStatePath(dataDir, keyId),
    JSON.stringify(next, null, 2) + "\n",
    PRIVATE,
  );
  return next;
}
