/**
 * A Rekor v1 client: record an entry (a `hashedrekord`, what `cosign sign`
 * logs, or a `dsse` envelope, what cosign v3 bundles log) and return it as
 * the log answered. Nothing here trusts the log: callers verify what comes
 * back against their trusted root.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { NetworkError, RegistryError, VerificationError } from "../errors/errors.ts";
import { isRecord } from "../json/record.ts";

/** The public-good Rekor. */
export const DEFAULT_REKOR_URL = "https://rekor.sigstore.dev";

/** A logged Rekor v1 entry (what cosign's `Bundle` and a Sigstore bundle need). */
export interface RekorEntry {
  uuid: string;
  /** base64 of the canonicalized entry body. */
  body: string;
  integratedTime: number;
  logIndex: number;
  /** Log ID, hex. */
  logID: string;
  signedEntryTimestamp: string;
  inclusionProof?: {
    logIndex: number;
    rootHash: string;
    treeSize: number;
    hashes: string[];
    checkpoint: string;
  };
}

const TIMEOUT_MS = 60_000;

function malformed(where: string, what: string): never {
  throw new VerificationError("REKOR_RESPONSE", `${where}: ${what}`);
}

function parseEntry(json: unknown, where: string): RekorEntry {
  if (!isRecord(json)) malformed(where, "response is not an object");
  const [uuid, e] = Object.entries(json)[0] ?? [];
  if (!uuid || !isRecord(e)) malformed(where, "no log entry in the response");
  const v = isRecord(e.verification) ? e.verification : {};
  if (
    typeof e.body !== "string" || !Number.isSafeInteger(e.integratedTime) ||
    !Number.isSafeInteger(e.logIndex) || typeof e.logID !== "string" ||
    typeof v.signedEntryTimestamp !== "string"
  ) {
    malformed(where, "malformed log entry");
  }
  const p = v.inclusionProof;
  let inclusionProof: RekorEntry["inclusionProof"];
  if (isRecord(p)) {
    if (
      !Number.isSafeInteger(p.logIndex) || typeof p.rootHash !== "string" ||
      !Number.isSafeInteger(p.treeSize) || !Array.isArray(p.hashes) ||
      !p.hashes.every((h) => typeof h === "string") || typeof p.checkpoint !== "string"
    ) {
      malformed(where, "malformed inclusion proof");
    }
    inclusionProof = {
      logIndex: p.logIndex as number,
      rootHash: p.rootHash,
      treeSize: p.treeSize as number,
      hashes: p.hashes as string[],
      checkpoint: p.checkpoint,
    };
  }
  return {
    uuid,
    body: e.body,
    integratedTime: e.integratedTime as number,
    logIndex: e.logIndex as number,
    logID: e.logID,
    signedEntryTimestamp: v.signedEntryTimestamp,
    ...(inclusionProof ? { inclusionProof } : {}),
  };
}

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** The hashedrekord v0.0.1 entry Rekor is asked to log. */
function hashedRekordProposal(
  payload: Uint8Array,
  signature: Uint8Array,
  publicKeyPem: string,
): Record<string, unknown> {
  return {
    apiVersion: "0.0.1",
    kind: "hashedrekord",
    spec: {
      data: {
        hash: { algorithm: "sha256", value: createHash("sha256").update(payload).digest("hex") },
      },
      signature: {
        content: b64(signature),
        publicKey: { content: b64(new TextEncoder().encode(publicKeyPem)) },
      },
    },
  };
}

/**
 * Ask the Rekor v1 log at `rekorUrl` to record `proposal`. An entry
 * already logged (HTTP 409) is fetched instead. The caller verifies the
 * result against its trusted root.
 * @throws NetworkError, RegistryError (refused), VerificationError (malformed answer)
 */
export async function uploadEntry(
  rekorUrl: string,
  proposal: Record<string, unknown>,
): Promise<RekorEntry> {
  const base = rekorUrl.replace(/\/+$/, "");
  const where = `Rekor at ${base}`;
  let res: Response;
  try {
    res = await fetch(`${base}/api/v1/log/entries`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(proposal),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (e) {
    throw new NetworkError(`cannot reach Rekor at ${base}: ${(e as Error).message}`, {
      cause: e,
      hint: "check --rekor-url and the network",
    });
  }
  if (res.status === 409) {
    const loc = res.headers.get("location");
    await res.body?.cancel();
    if (!loc) throw new RegistryError(409, `${where}: entry exists but no Location given`);
    const again = await fetch(new URL(loc, base), { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!again.ok) {
      await again.body?.cancel();
      throw new RegistryError(again.status, `${where}: HTTP ${again.status}`);
    }
    return parseEntry(await again.json(), where);
  }
  if (res.status !== 201 && res.status !== 200) {
    const text = (await res.text()).slice(0, 300).replace(/\s+/g, " ");
    throw new RegistryError(res.status, `${where} refused the entry: HTTP ${res.status} ${text}`);
  }
  return parseEntry(await res.json(), where);
}

/** Log a hashedrekord entry for `payload` signed by `publicKeyPem`. */
export function uploadHashedRekord(
  rekorUrl: string,
  payload: Uint8Array,
  signature: Uint8Array,
  publicKeyPem: string,
): Promise<RekorEntry> {
  return uploadEntry(rekorUrl, hashedRekordProposal(payload, signature, publicKeyPem));
}
