/**
 * Rekor v1 through `@sigstore/sign`'s `RekorWitness` (a `hashedrekord` for
 * a message signature, what `cosign sign` / `sign-blob` log, or a `dsse`
 * entry for an envelope, what cosign v3 bundles log): the witness for the
 * bundle builders, the one-line errors its failures become, and the entry
 * as cosign's `.sig` annotations and this tool's `--json` name it. An entry
 * already logged (HTTP 409) is fetched from the same log instead. Nothing
 * here trusts the log: callers verify the built bundle against their
 * trusted root before anything is published.
 *
 * `@sigstore/sign` is loaded on first use ({@linkcode loadSigstoreSign}):
 * its HTTP stack (`make-fetch-happen`) reads the whole environment when it
 * loads, which the commands that never sign are not allowed to.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { TransparencyLogEntry } from "../npm/sigstore_bundle.ts";
import type { Witness } from "../npm/sigstore_sign.ts";
import { NetworkError, RegistryError, VerificationError } from "../errors/errors.ts";
import { isRecord } from "../json/record.ts";

/** The public-good Rekor. */
export const DEFAULT_REKOR_URL = "https://rekor.sigstore.dev";

/** How long one request to Rekor may take. */
export const REKOR_TIMEOUT_MS = 60_000;

/** A logged Rekor v1 entry, as cosign's `Bundle` annotation and `--json` name it. */
export interface RekorEntry {
  /** Rekor's entry UUID: hex RFC 6962 leaf hash of the body. */
  uuid: string;
  /** base64 of the canonicalized entry body. */
  body: string;
  integratedTime: number;
  logIndex: number;
  /** Log ID, hex. */
  logID: string;
  /** base64 of the signed entry timestamp. */
  signedEntryTimestamp: string;
}

/** The `@sigstore/sign` module, loaded once on first use. */
export function loadSigstoreSign(): Promise<typeof import("../npm/sigstore_sign.ts")> {
  return import("../npm/sigstore_sign.ts");
}

/** A witness that logs in the Rekor v1 log at `rekorUrl` (no retries, `timeoutMs` per request). */
export async function rekorWitness(
  rekorUrl: string,
  timeoutMs = REKOR_TIMEOUT_MS,
): Promise<Witness> {
  const { RekorWitness } = await loadSigstoreSign();
  return new RekorWitness({
    rekorBaseURL: rekorUrl.replace(/\/+$/, ""),
    fetchOnConflict: true,
    timeout: timeoutMs,
    retry: false,
  });
}

function malformed(where: string, what: string): never {
  throw new VerificationError("REKOR_RESPONSE", `${where}: ${what}`);
}

/**
 * The entry a built bundle carries, with the fields cosign's `Bundle`
 * annotation needs (SET, body, integrated time, log index, log ID).
 * @throws VerificationError `REKOR_RESPONSE` when the log left one out
 */
export function rekorEntryOf(
  entry: TransparencyLogEntry | undefined,
  rekorUrl: string,
): RekorEntry {
  const where = `Rekor at ${rekorUrl.replace(/\/+$/, "")}`;
  const set = entry?.inclusionPromise?.signedEntryTimestamp;
  if (!entry || !set || !entry.logId) malformed(where, "no signed log entry in the answer");
  const logIndex = Number(entry.logIndex);
  const integratedTime = Number(entry.integratedTime);
  if (!Number.isSafeInteger(logIndex) || !Number.isSafeInteger(integratedTime)) {
    malformed(where, "malformed log entry");
  }
  const body = Buffer.from(entry.canonicalizedBody);
  return {
    uuid: createHash("sha256").update(Buffer.from([0])).update(body).digest("hex"),
    body: body.toString("base64"),
    integratedTime,
    logIndex,
    logID: Buffer.from(entry.logId.keyId).toString("hex"),
    signedEntryTimestamp: Buffer.from(set).toString("base64"),
  };
}

/**
 * The one-line error a failed `RekorWitness.testify` (or a bundle builder
 * using it) becomes: the log not reached or timed out (`NetworkError`), an
 * HTTP error status (`RegistryError`), anything else a malformed answer
 * (`VerificationError` `REKOR_RESPONSE`).
 */
export function rekorFailure(error: unknown, rekorUrl: string): Error {
  const base = rekorUrl.replace(/\/+$/, "");
  const where = `Rekor at ${base}`;
  // `@sigstore/sign` wraps what failed in an InternalError with a `cause`.
  const cause = isRecord(error) && typeof error.code === "string" &&
      error.code.startsWith("TLOG_") && error.cause !== undefined
    ? error.cause
    : error;
  const message = cause instanceof Error ? cause.message : String(cause);
  if (isRecord(cause) && typeof cause.statusCode === "number") {
    const text = message.replace(/^\(\d+\) /, "").slice(0, 300).replace(/\s+/g, " ");
    return new RegistryError(
      cause.statusCode,
      `${where} refused the entry: HTTP ${cause.statusCode} ${text}`,
      { cause: error },
    );
  }
  if (cause instanceof Deno.errors.NotCapable || cause instanceof Deno.errors.PermissionDenied) {
    return cause;
  }
  if (isRecord(cause) && cause.name === "FetchError" && cause.type !== "invalid-json") {
    return new NetworkError(`cannot reach Rekor at ${base}: ${message}`, {
      cause: error,
      hint: "check --rekor-url and the network",
    });
  }
  return new VerificationError("REKOR_RESPONSE", `${where}: malformed answer (${message})`, {
    cause: error,
  });
}
