/**
 * Turn cosign's legacy material into Sigstore bundles (v0.1: the Rekor entry
 * carries an inclusion promise, the signed entry timestamp) so that
 * `@sigstore/verify` checks it. Kind and version of the tlog entry are read
 * from the entry body, never assumed.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { type Bundle, bundleFromJSON, type SerializedBundle } from "../npm/sigstore_bundle.ts";
import { SignatureFormatError } from "../errors/errors.ts";
import { encodeBase64 } from "../encoding/base64.ts";
import type { CosignAttestation, CosignSignature, RekorBundle } from "./model.ts";

/** Media type of the bundles built here. */
const LEGACY_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle+json;version=0.1";

/** How the signer is named in the bundle. */
export type SignerMaterial = { keyHint: string } | { certificate: Uint8Array };

function tlogEntry(b: RekorBundle) {
  return {
    logIndex: String(b.logIndex),
    logId: { keyId: encodeBase64(new Uint8Array(Buffer.from(b.logID, "hex"))) },
    kindVersion: { kind: b.kind, version: b.kindVersion },
    integratedTime: String(b.integratedTime),
    inclusionPromise: { signedEntryTimestamp: encodeBase64(b.signedEntryTimestamp) },
    canonicalizedBody: encodeBase64(b.body),
  };
}

function verificationMaterial(
  signer: SignerMaterial,
  bundle: RekorBundle | undefined,
  rfc3161: Uint8Array | undefined,
) {
  return {
    ...("keyHint" in signer ? { publicKey: { hint: signer.keyHint } } : {
      x509CertificateChain: { certificates: [{ rawBytes: encodeBase64(signer.certificate) }] },
    }),
    tlogEntries: bundle ? [tlogEntry(bundle)] : [],
    timestampVerificationData: {
      rfc3161Timestamps: rfc3161 ? [{ signedTimestamp: encodeBase64(rfc3161) }] : [],
    },
  };
}

function build(json: unknown): Bundle {
  try {
    return bundleFromJSON(json);
  } catch (cause) {
    throw new SignatureFormatError(`cannot build a Sigstore bundle: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/** A cosign simple-signing signature as a message-signature bundle. */
export function cosignSignatureToBundle(sig: CosignSignature, signer: SignerMaterial): Bundle {
  const digest = crypto.createHash("sha256").update(sig.payload).digest();
  const json = {
    mediaType: LEGACY_BUNDLE_MEDIA_TYPE,
    verificationMaterial: verificationMaterial(signer, sig.bundle, sig.rfc3161Timestamp),
    messageSignature: {
      messageDigest: { algorithm: "SHA2_256", digest: digest.toString("base64") },
      signature: encodeBase64(sig.signature),
    },
  } as unknown as SerializedBundle;
  return build(json);
}

/** A cosign attestation (DSSE envelope) as a DSSE bundle. */
export function cosignAttestationToBundle(att: CosignAttestation, signer: SignerMaterial): Bundle {
  const env = att.envelope;
  const json = {
    mediaType: LEGACY_BUNDLE_MEDIA_TYPE,
    verificationMaterial: verificationMaterial(signer, att.bundle, att.rfc3161Timestamp),
    dsseEnvelope: {
      payloadType: env.payloadType,
      payload: encodeBase64(env.payload),
      signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: encodeBase64(s.sig) })),
    },
  } as unknown as SerializedBundle;
  return build(json);
}
