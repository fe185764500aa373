/**
 * Which parts of a bundle's transparency-log entries are authenticated, for
 * ordering (rollback protection, `../shared/cli.md` rule 1). Run after
 * `@sigstore/verify` accepted the bundle:
 *
 * - an entry with an inclusion promise (signed entry timestamp): the SET
 *   covers log ID, log index, integrated time and body, so all three count;
 * - an entry with only an inclusion proof: the proof's own index is what the
 *   Merkle path authenticates, so the entry's `logIndex` must equal it (a
 *   bundle whose entry and proof disagree is invalid); its integrated time
 *   is covered by nothing and reads as 0;
 * - a proof-only entry's log key must be valid (`validFor`) at the earliest
 *   verified RFC 3161 time, or now when there is none (the SET path checks
 *   validity at the integrated time inside the library; the checkpoint path
 *   does not).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { TransparencyLogEntry } from "../npm/sigstore_bundle.ts";
import { RFC3161Timestamp } from "../npm/sigstore_core.ts";
import type { TrustedRoot } from "../npm/sigstore_protobuf_specs.ts";
import { VerificationError } from "../errors/errors.ts";

/** One entry as far as it is authenticated. */
export interface AuthenticatedEntry {
  /** Log ID, lowercase hex. */
  logID: string;
  /** Decimal log index (= the inclusion proof's, when there is one). */
  logIndex: string;
  /** Seconds since the epoch when covered by a signed entry timestamp, else 0. */
  integratedTime: number;
  kind: string;
  kindVersion: string;
}

function refuse(message: string): never {
  throw new VerificationError("TLOG_INVALID", message, {
    hint: "the bundle was altered; do not trust it",
  });
}

/**
 * Earliest signing time (seconds) of the bundle's RFC 3161 timestamps, which
 * the verifier has already checked; undefined when there are none.
 */
export function earliestTimestamp(
  timestamps: readonly { signedTimestamp: Buffer | Uint8Array }[],
): number | undefined {
  let min: number | undefined;
  for (const t of timestamps) {
    const at = RFC3161Timestamp.parse(Buffer.from(t.signedTimestamp)).signingTime.getTime();
    const s = Math.floor(at / 1000);
    if (min === undefined || s < min) min = s;
  }
  return min;
}

function validAt(root: TrustedRoot, logID: Buffer, at: Date): boolean {
  return (root.tlogs ?? []).some((t) => {
    if (!t.logId || !Buffer.from(t.logId.keyId).equals(logID)) return false;
    const vf = t.publicKey?.validFor;
    const start = vf?.start ? new Date(vf.start as unknown as string | Date) : undefined;
    const end = vf?.end ? new Date(vf.end as unknown as string | Date) : undefined;
    return (!start || start <= at) && (!end || at <= end);
  });
}

/**
 * The authenticated view of verified entries.
 * @throws VerificationError `TLOG_INVALID` (entry/proof index disagree, log key not valid).
 */
export function authenticatedEntries(
  entries: readonly TransparencyLogEntry[],
  root: TrustedRoot,
  rfc3161Time: number | undefined,
  now: Date = new Date(),
): AuthenticatedEntry[] {
  return entries.map((e) => {
    const logID = Buffer.from(e.logId?.keyId ?? []);
    const hasPromise = e.inclusionPromise !== undefined;
    if (e.inclusionProof) {
      if (String(e.inclusionProof.logIndex) !== String(e.logIndex)) {
        refuse(
          `the transparency-log entry says log index ${e.logIndex} but its inclusion proof is for ${e.inclusionProof.logIndex}`,
        );
      }
      if (!hasPromise) {
        const at = rfc3161Time !== undefined ? new Date(rfc3161Time * 1000) : now;
        if (!validAt(root, logID, at)) {
          refuse(
            `the log key of ${
              logID.toString("hex").slice(0, 16)
            }… is not valid at ${at.toISOString()} (trusted root validFor)`,
          );
        }
      }
    }
    return {
      logID: logID.toString("hex"),
      logIndex: String(e.logIndex),
      integratedTime: hasPromise ? Number(e.integratedTime) : 0,
      kind: e.kindVersion?.kind ?? "",
      kindVersion: e.kindVersion?.version ?? "",
    };
  });
}
