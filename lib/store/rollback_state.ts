/**
 * Rollback protection (`../shared/cli.md`, "Rollback protection"): state kept
 * per image repository, and the rule that orders a candidate against it.
 *
 * An attacker who controls the registry can replay any public signature and
 * log NEW entries for it at any time (the ECDSA twin `(r, n−s)`, a DSSE
 * signature logged again as another entry type, a second log of the trusted
 * root). A log position only proves that a signature existed by then. So:
 *
 * 1. only authenticated positions are used (the callers hand over the SET-
 *    covered index and time, or a proof's index with time 0);
 * 2. the signed build time (config `created`) orders images first;
 * 3. equal or missing build times fall back to log positions: per log by
 *    index, across logs by authenticated time; a log never seen is no bypass;
 *    the state records the EARLIEST positions of the installed image and new
 *    entries for it never move the state (no freeze);
 * 4. a digest once replaced is never installed again without `--force`;
 * 5. Dangerzone's `signatures/last_log_index` is a floor (`last_log_index.ts`).
 *
 * The state file is `<data-dir>/rollback/<sha256 of the repository>.json`,
 * replaced atomically.
 *
 * @module
 */

import { join } from "node:path";
import { LocalStateError, RollbackError } from "../errors/errors.ts";
import { isDigest, isSha256Hex, sha256Digest } from "../digest/digest.ts";
import { PRIVATE, writeFileAtomic } from "../fs/atomic.ts";
import { readTextIfExists } from "../fs/read_file.ts";

/** An authenticated transparency-log position of a verified signature. */
export interface LoggedPosition {
  /** Log ID, lowercase hex. */
  logID: string;
  logIndex: number;
  /** Authenticated seconds since the epoch (SET or RFC 3161); 0 when none. */
  integratedTime: number;
}

/** The earliest position of the installed image in one log. */
export interface LogPosition {
  logIndex: number;
  /** Authenticated seconds since the epoch; 0 when none. */
  integratedTime: number;
}

/** What is recorded about the image installed from one repository. */
export interface ImageState {
  version: 2;
  repository: string;
  /** The signed digest installed. */
  digest: string;
  /** The platform manifest installed (= `digest` when the signed digest is a manifest). */
  platformDigest?: string;
  /** The image ID: the config digest of the platform manifest. */
  imageId?: string;
  /** Its signed build time (config `created`, ISO 8601), when it has one. */
  created?: string;
  /** Per log ID: the earliest authenticated position of its signatures. */
  logs: Record<string, LogPosition>;
  /**
   * Digests this machine replaced (never installed again without --force):
   * the signed digest, its platform manifest and its image ID, so that the
   * image cannot come back in another signed wrapper (a release signs the
   * index and each platform manifest).
   */
  replaced: string[];
}

/** A candidate for installation. */
export interface Candidate {
  digest: string;
  /** The platform manifest it resolves to (verified through the signed digest). */
  platformDigest?: string;
  /** Its config digest (the image ID). */
  imageId?: string;
  /** Signed build time, ms since the epoch, when the config has a valid one. */
  created?: number;
  positions: readonly LoggedPosition[];
}

/** A floor on log indexes (Dangerzone's `last_log_index`). */
export interface LogIndexFloor {
  logIndex: number;
  /** The log it applies to; undefined: the largest index in any log (as Dangerzone compares). */
  logID?: string;
  /** Where it comes from, for messages. */
  source: string;
}

/** How many replaced digests are remembered (three per image: signed, platform, image ID). */
const MAX_REPLACED = 3000;

/** The state file of `repository`. */
export function imageStatePath(dataDir: string, repository: string): string {
  return join(dataDir, "rollback", `${sha256Digest(repository).slice(7)}.json`);
}

function isPos(v: unknown): v is LogPosition {
  const p = v as LogPosition;
  return typeof v === "object" && v !== null &&
    Number.isSafeInteger(p.logIndex) && p.logIndex >= 0 &&
    Number.isSafeInteger(p.integratedTime) && p.integratedTime >= 0;
}

function corrupt(path: string, what: string): never {
  throw new LocalStateError(`rollback state ${path} is corrupt (${what})`, {
    hint: "restore it from a backup or remove it knowingly",
  });
}

/**
 * The state of `repository`, or undefined when none was ever written.
 * @throws LocalStateError (`LOCAL_STATE_TAMPERED`) when corrupt (a corrupt state is never
 * treated as absent); IoError when unreadable.
 */
export async function readImageState(
  dataDir: string,
  repository: string,
): Promise<ImageState | undefined> {
  const path = imageStatePath(dataDir, repository);
  const text = await readTextIfExists(path);
  if (text === undefined) return undefined;
  let doc: ImageState;
  try {
    doc = JSON.parse(text);
  } catch {
    corrupt(path, "not JSON");
  }
  if (
    typeof doc !== "object" || doc === null || doc.version !== 2 ||
    doc.repository !== repository || !isDigest(doc.digest) ||
    (doc.created !== undefined && Number.isNaN(Date.parse(doc.created))) ||
    (doc.platformDigest !== undefined && !isDigest(doc.platformDigest)) ||
    (doc.imageId !== undefined && !isDigest(doc.imageId)) ||
    typeof doc.logs !== "object" || doc.logs === null ||
    Object.entries(doc.logs).some(([k, v]) => !isSha256Hex(k) || !isPos(v)) ||
    !Array.isArray(doc.replaced) || doc.replaced.some((d) => typeof d !== "string")
  ) {
    corrupt(path, "unexpected content");
  }
  return doc;
}

/** Per log: the earliest index (and the earliest authenticated time) among `positions`. */
function earliestPerLog(positions: readonly LoggedPosition[]): Record<string, LogPosition> {
  const out: Record<string, LogPosition> = {};
  for (const p of positions) {
    const cur = out[p.logID];
    if (!cur) {
      out[p.logID] = { logIndex: p.logIndex, integratedTime: p.integratedTime };
      continue;
    }
    cur.logIndex = Math.min(cur.logIndex, p.logIndex);
    if (p.integratedTime > 0) {
      cur.integratedTime = cur.integratedTime > 0
        ? Math.min(cur.integratedTime, p.integratedTime)
        : p.integratedTime;
    }
  }
  return out;
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function refuse(message: string): never {
  throw new RollbackError(message, {
    hint: "this image is older than the one installed; use --force only if you mean it",
  });
}

/** The largest log index of `positions` (in `logID` when given). */
function largestIndex(
  positions: readonly LoggedPosition[],
  logID?: string,
): number | undefined {
  let max: number | undefined;
  for (const p of positions) {
    if (logID !== undefined && p.logID !== logID) continue;
    if (max === undefined || p.logIndex > max) max = p.logIndex;
  }
  return max;
}

/**
 * Refuse positions whose largest index (in the floor's log, or in any log)
 * is below `floor`. A floor for one log says nothing about another.
 * @throws RollbackError
 */
export function assertAboveFloor(
  positions: readonly LoggedPosition[],
  floor: LogIndexFloor | undefined,
): void {
  if (!floor) return;
  const max = largestIndex(positions, floor.logID);
  if (max === undefined && floor.logID !== undefined) return;
  if (max === undefined || max < floor.logIndex) {
    refuse(
      `rollback refused: the newest signature is at log index ${
        max ?? "none"
      }, below the floor ${floor.logIndex} (${floor.source})`,
    );
  }
}

/** The digests that name `c`'s image: signed digest, platform manifest, image ID. */
function namesOf(c: Pick<Candidate, "digest" | "platformDigest" | "imageId">): string[] {
  return [c.digest, c.platformDigest, c.imageId].filter((d): d is string => d !== undefined);
}

/** Is `candidate` the image `state` records (same signed digest, or same image ID)? */
function sameImage(state: ImageState | undefined, candidate: Candidate): boolean {
  return state !== undefined && (state.digest === candidate.digest ||
    (state.imageId !== undefined && state.imageId === candidate.imageId));
}

/**
 * Refuse `candidate` when it would roll back what `state` records. The
 * installed image itself (its signed digest, or its image ID in another
 * signed wrapper) is never a rollback.
 * @throws RollbackError
 */
export function assertNotRollback(state: ImageState | undefined, candidate: Candidate): void {
  if (sameImage(state, candidate)) return;
  const replaced = namesOf(candidate).find((d) => state?.replaced.includes(d));
  if (replaced) {
    refuse(
      `rollback refused: ${
        replaced === candidate.digest ? candidate.digest : `${candidate.digest} (${replaced})`
      } was replaced on this machine before`,
    );
  }
  if (!state) return;

  // 2. The signed build time first.
  const installedCreated = state.created ? Date.parse(state.created) : undefined;
  if (candidate.created !== undefined && installedCreated !== undefined) {
    if (candidate.created < installedCreated) {
      refuse(
        `rollback refused: the image was built ${
          new Date(candidate.created).toISOString()
        }, before the installed one (${state.created})`,
      );
    }
    if (candidate.created > installedCreated) return;
  }

  // 3. Log positions: per log by index, across logs by authenticated time.
  const mine = new Map<string, number>();
  for (const p of candidate.positions) {
    mine.set(p.logID, Math.max(mine.get(p.logID) ?? -1, p.logIndex));
  }
  const common = [...mine.keys()].filter((id) => state.logs[id] !== undefined);
  for (const id of common) {
    const rec = state.logs[id];
    const max = mine.get(id)!;
    if (max <= rec.logIndex) {
      refuse(
        `rollback refused: the newest signature is at log index ${max}, not after the installed image's ${rec.logIndex} in log ${
          id.slice(0, 16)
        }…`,
      );
    }
  }
  if (common.length > 0) return;
  const theirs = Object.values(state.logs).map((p) => p.integratedTime).filter((t) => t > 0);
  const ours = candidate.positions.map((p) => p.integratedTime).filter((t) => t > 0);
  if (theirs.length === 0 || ours.length === 0) {
    refuse(
      "rollback refused: the image's signatures are in no log the installed image was seen in, and carry no authenticated time to compare",
    );
  }
  const installedAt = Math.min(...theirs);
  const newest = Math.max(...ours);
  if (newest <= installedAt) {
    refuse(
      `rollback refused: the newest signature was logged ${
        iso(newest)
      }, not after the installed image (${iso(installedAt)})`,
    );
  }
}

/**
 * What is written after installing `candidate` over `previous`. Reinstalling
 * the recorded image (its digest, or its image ID in another signed wrapper)
 * keeps its recorded positions (new entries never move them); installing a
 * replaced digest (`--force`) takes it off the list. A replaced image is
 * listed by its signed digest, platform manifest and image ID. A forced
 * install does not list the image it stepped back from: the user went back
 * knowingly and may go forward to it again.
 */
export function nextImageState(
  repository: string,
  previous: ImageState | undefined,
  candidate: Candidate,
  options: { forced?: boolean } = {},
): ImageState {
  if (previous && sameImage(previous, candidate)) return previous;
  const replaced = [...(previous?.replaced ?? [])];
  if (previous && !options.forced) replaced.push(...namesOf(previous));
  const mine = new Set(namesOf(candidate));
  const kept = replaced.filter((d) => !mine.has(d));
  return {
    version: 2,
    repository,
    digest: candidate.digest,
    ...(candidate.platformDigest !== undefined ? { platformDigest: candidate.platformDigest } : {}),
    ...(candidate.imageId !== undefined ? { imageId: candidate.imageId } : {}),
    ...(candidate.created !== undefined
      ? { created: new Date(candidate.created).toISOString() }
      : {}),
    logs: earliestPerLog(candidate.positions),
    replaced: [...new Set(kept)].slice(-MAX_REPLACED),
  };
}

/** Replace the state of `state.repository` atomically (0600). */
export async function writeImageState(dataDir: string, state: ImageState): Promise<void> {
  await writeFileAtomic(
    imageStatePath(dataDir, state.repository),
    JSON.stringify(state, null, 2) + "\n",
    PRIVATE,
  );
}
