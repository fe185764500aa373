/**
 * Log a DSSE envelope in a Rekor v1 log (`dsse` 0.0.1 entry, what cosign v3
 * does for its bundles) and turn the answer into the `TransparencyLogEntry`
 * of a Sigstore bundle (JSON form), inclusion proof and signed entry
 * timestamp included. Nothing here trusts the log: the caller verifies the
 * assembled bundle against its trusted root.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { NetworkError, RegistryError, VerificationError } from "../cli/errors.ts";
import { isRecord } from "../signatures/fields.ts";

/** A Rekor v1 log entry as the API returns it (the parts a bundle needs). */
export interface RekorV1Entry {
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

function parseEntry(json: unknown, where: string): RekorV1Entry {
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
  let inclusionProof: RekorV1Entry["inclusionProof"];
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

/** The `dsse` 0.0.1 entry Rekor is asked to log. */
export function dsseProposal(envelopeJson: string, verifierPem: string): Record<string, unknown> {
  return {
    apiVersion: "0.0.1",
    kind: "dsse",
    spec: {
      proposedContent: {
        envelope: envelopeJson,
        verifiers: [Buffer.from(verifierPem, "utf8").toString("base64")],
      },
    },
  };
}

/**
 * Log a DSSE envelope (its exact JSON text) signed by the key in
 * `verifierPem`. An entry already logged (HTTP 409) is fetched instead.
 * @throws NetworkError, RegistryError (refused), VerificationError (malformed answer)
 */
export async function uploadDsseEntry(
  rekorUrl: string,
  envelopeJson: string,
  verifierPem: string,
): Promise<RekorV1Entry> {
  const base = rekorUrl.replace(/\/+$/, "");
  const where = `Rekor at ${base}`;
  let res: Response;
  try {
    res = await fetch(`${base}/api/v1/log/entries`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(dsseProposal(envelopeJson, verifierPem)),
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

const hexToB64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");

/** The bundle `TransparencyLogEntry` (JSON form) of a Rekor v1 entry. */
export function bundleTlogEntry(entry: RekorV1Entry): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(entry.body, "base64").toString("utf8"));
  } catch {
    malformed("Rekor entry", "the body is not JSON");
  }
  if (!isRecord(body) || typeof body.kind !== "string" || typeof body.apiVersion !== "string") {
    malformed("Rekor entry", "the body names no kind / apiVersion");
  }
  const p = entry.inclusionProof;
  return {
    logIndex: String(entry.logIndex),
    logId: { keyId: hexToB64(entry.logID) },
    kindVersion: { kind: body.kind, version: body.apiVersion },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: { signedEntryTimestamp: entry.signedEntryTimestamp },
    ...(p
      ? {
        inclusionProof: {
          logIndex: String(p.logIndex),
          rootHash: hexToB64(p.rootHash),
          treeSize: String(p.treeSize),
          hashes: p.hashes.map(hexToB64),
          checkpoint: { envelope: p.checkpoint },
        },
      }
      : {}),
    canonicalizedBody: entry.body,
  };
}
