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
import { VerificationError } from "../errors/errors.ts";
import { type RekorEntry, uploadEntry } from "./rekor_client.ts";

import { isRecord } from "../json/record.ts";

export type { RekorEntry };

function malformed(where: string, what: string): never {
  throw new VerificationError("REKOR_RESPONSE", `${where}: ${what}`);
}

/** The `dsse` 0.0.1 entry Rekor is asked to log. */
function dsseProposal(envelopeJson: string, verifierPem: string): Record<string, unknown> {
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

/** Log a DSSE envelope (its exact JSON text) signed by the key in `verifierPem`. */
export function uploadDsseEntry(
  rekorUrl: string,
  envelopeJson: string,
  verifierPem: string,
): Promise<RekorEntry> {
  return uploadEntry(rekorUrl, dsseProposal(envelopeJson, verifierPem));
}

const hexToB64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");

/** The bundle `TransparencyLogEntry` (JSON form) of a Rekor v1 entry. */
export function bundleTlogEntry(entry: RekorEntry): Record<string, unknown> {
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
