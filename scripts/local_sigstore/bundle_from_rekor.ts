/**
 * Turn a Rekor v1 log entry (as the API returns it) into the
 * `TransparencyLogEntry` of a Sigstore bundle, and assemble a v0.3
 * message-signature bundle (JSON form). Used by the tests and the demo to
 * feed what the stand-in returned to the real verifier.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { RekorLogEntry } from "./transparency_log.ts";

/** Bundle v0.3 media type. */
export const BUNDLE_V03_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";

const hexToB64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");

/** Bundle `TransparencyLogEntry` JSON for a Rekor v1 entry. */
export function tlogEntryFromRekor(entry: RekorLogEntry): Record<string, unknown> {
  const body = JSON.parse(Buffer.from(entry.body, "base64").toString("utf8"));
  const proof = entry.verification.inclusionProof;
  return {
    logIndex: String(entry.logIndex),
    logId: { keyId: hexToB64(entry.logID) },
    kindVersion: { kind: body.kind, version: body.apiVersion },
    integratedTime: String(entry.integratedTime),
    inclusionPromise: { signedEntryTimestamp: entry.verification.signedEntryTimestamp },
    inclusionProof: proof
      ? {
        logIndex: String(proof.logIndex),
        rootHash: hexToB64(proof.rootHash),
        treeSize: String(proof.treeSize),
        hashes: proof.hashes.map(hexToB64),
        checkpoint: { envelope: proof.checkpoint },
      }
      : undefined,
    canonicalizedBody: entry.body,
  };
}

/** What {@linkcode messageSignatureBundle} needs. */
export interface MessageSignatureBundleInput {
  /** The Rekor entry for the signature. */
  entry: RekorLogEntry;
  /** SHA-256 digest of the artifact. */
  digest: Uint8Array;
  /** Signature over the artifact. */
  signature: Uint8Array;
  /** Either a key hint (key-based) or a DER leaf certificate (Fulcio). */
  keyHint?: string;
  certificate?: Uint8Array;
  /** DER RFC 3161 timestamp tokens. */
  rfc3161Timestamps?: Uint8Array[];
}

/** A v0.3 message-signature bundle (JSON form, for `bundleFromJSON`). */
export function messageSignatureBundle(
  input: MessageSignatureBundleInput,
): Record<string, unknown> {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
  const material = input.certificate
    ? { certificate: { rawBytes: b64(input.certificate) } }
    : { publicKey: { hint: input.keyHint ?? "" } };
  return {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      ...material,
      tlogEntries: [tlogEntryFromRekor(input.entry)],
      timestampVerificationData: {
        rfc3161Timestamps: (input.rfc3161Timestamps ?? []).map((t) => ({
          signedTimestamp: b64(t),
        })),
      },
    },
    messageSignature: {
      messageDigest: { algorithm: "SHA2_256", digest: b64(input.digest) },
      signature: b64(input.signature),
    },
  };
}
