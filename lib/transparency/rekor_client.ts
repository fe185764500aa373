/**
 * A Rekor v1 client: record a hashedrekord entry (what `cosign sign` does)
 * and return the entry in the shape cosign stores in its `Bundle`.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { NetworkError, RegistryError, VerificationError } from "../cli/errors.ts";

/** The public-good Rekor. */
export const DEFAULT_REKOR_URL = "https://rekor.sigstore.dev";

/** A logged entry, as cosign's `Bundle` holds it. */
export interface RekorEntry {
  uuid: string;
  /** base64 of the canonicalized entry body. */
  body: string;
  integratedTime: number;
  logIndex: number;
  /** Log ID, hex. */
  logID: string;
  /** base64 signed entry timestamp (the log's promise of inclusion). */
  signedEntryTimestamp: string;
}

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** The hashedrekord v0.0.1 entry Rekor is asked to log. */
export function hashedRekordProposal(
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

function parseEntry(json: unknown, where: string): RekorEntry {
  if (typeof json !== "object" || json === null) {
    throw new VerificationError("REKOR_RESPONSE", `${where}: response is not an object`);
  }
  const [uuid, e] = Object.entries(json as Record<string, unknown>)[0] ?? [];
  const entry = e as Record<string, unknown> | undefined;
  const set = (entry?.verification as Record<string, unknown> | undefined)?.signedEntryTimestamp;
  if (
    !uuid || !entry || typeof entry.body !== "string" ||
    !Number.isSafeInteger(entry.integratedTime) || !Number.isSafeInteger(entry.logIndex) ||
    typeof entry.logID !== "string" || typeof set !== "string"
  ) {
    throw new VerificationError("REKOR_RESPONSE", `${where}: malformed log entry`);
  }
  return {
    uuid,
    body: entry.body,
    integratedTime: entry.integratedTime as number,
    logIndex: entry.logIndex as number,
    logID: entry.logID,
    signedEntryTimestamp: set,
  };
}

/**
 * Log a hashedrekord entry. An entry that already exists (HTTP 409) is
 * fetched instead. The caller verifies the result with the trusted root.
 */
export async function uploadHashedRekord(
  rekorUrl: string,
  payload: Uint8Array,
  signature: Uint8Array,
  publicKeyPem: string,
): Promise<RekorEntry> {
  const base = rekorUrl.replace(/\/+$/, "");
  const url = `${base}/api/v1/log/entries`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(hashedRekordProposal(payload, signature, publicKeyPem)),
      signal: AbortSignal.timeout(60_000),
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
    if (!loc) throw new RegistryError(409, `Rekor at ${base}: entry exists but no Location given`);
    const again = await fetch(new URL(loc, base), { signal: AbortSignal.timeout(60_000) });
    if (!again.ok) throw new RegistryError(again.status, `Rekor at ${base}: HTTP ${again.status}`);
    return parseEntry(await again.json(), `Rekor at ${base}`);
  }
  if (res.status !== 201 && res.status !== 200) {
    const text = (await res.text()).slice(0, 300).replace(/\s+/g, " ");
    throw new RegistryError(
      res.status,
      `Rekor at ${base} refused the entry: HTTP ${res.status} ${text}`,
    );
  }
  return parseEntry(await res.json(), `Rekor at ${base}`);
}
