/**
 * Build a Sigstore `trusted_root.json` (protobuf JSON form, media type
 * `application/vnd.dev.sigstore.trustedroot+json;version=0.1`) for the local
 * stand-in: its Rekor key, Fulcio CA chain, CT log key and TSA chain.
 * `@sigstore/mock` has no such builder.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";

/** Trusted root media type. */
export const TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

/** A trusted root in its JSON form (what `TrustedRoot.fromJSON` reads). */
export interface TrustedRootJson {
  mediaType: string;
  tlogs: TransparencyLogInstanceJson[];
  certificateAuthorities: CertificateAuthorityJson[];
  ctlogs: TransparencyLogInstanceJson[];
  timestampAuthorities: CertificateAuthorityJson[];
}

/** `TransparencyLogInstance` JSON. */
export interface TransparencyLogInstanceJson {
  baseUrl: string;
  hashAlgorithm: "SHA2_256";
  publicKey: { rawBytes: string; keyDetails: string; validFor: { start: string } };
  logId: { keyId: string };
}

/** `CertificateAuthority` JSON. */
export interface CertificateAuthorityJson {
  subject: { organization: string; commonName: string };
  uri: string;
  certChain: { certificates: { rawBytes: string }[] };
  validFor: { start: string };
}

/** What the trusted root describes. */
export interface TrustedRootInput {
  rekorUrl: string;
  /** DER SPKI of the Rekor key. */
  rekorPublicKey: Uint8Array;
  fulcioUrl: string;
  /** DER certificates, leaf-most first (the Fulcio root alone here). */
  fulcioChain: Uint8Array[];
  ctlogUrl: string;
  /** DER SPKI of the CT log key. */
  ctlogPublicKey: Uint8Array;
  tsaUrl?: string;
  /** DER certificates, signer first, root last. */
  tsaChain?: Uint8Array[];
  /** Start of validity for every key and chain. */
  validFrom: Date;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** Protobuf `PublicKeyDetails` name for a DER SPKI key. */
export function keyDetailsOf(spki: Uint8Array): string {
  const key = crypto.createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1") return "PKIX_ECDSA_P256_SHA_256";
      if (curve === "secp384r1") return "PKIX_ECDSA_P384_SHA_384";
      if (curve === "secp521r1") return "PKIX_ECDSA_P521_SHA_512";
      throw new Error(`unsupported curve ${curve}`);
    }
    case "ed25519":
      return "PKIX_ED25519";
    case "rsa":
      return "PKIX_RSA_PKCS1V15_2048_SHA256";
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

function tlogInstance(
  baseUrl: string,
  spki: Uint8Array,
  validFrom: Date,
): TransparencyLogInstanceJson {
  return {
    baseUrl,
    hashAlgorithm: "SHA2_256",
    publicKey: {
      rawBytes: b64(spki),
      keyDetails: keyDetailsOf(spki),
      validFor: { start: validFrom.toISOString() },
    },
    logId: { keyId: b64(crypto.createHash("sha256").update(spki).digest()) },
  };
}

function authority(
  uri: string,
  commonName: string,
  chain: Uint8Array[],
  validFrom: Date,
): CertificateAuthorityJson {
  return {
    subject: { organization: "sigstore.mock", commonName },
    uri,
    certChain: { certificates: chain.map((der) => ({ rawBytes: b64(der) })) },
    validFor: { start: validFrom.toISOString() },
  };
}

/** Build the trusted root for the given services. */
export function buildTrustedRoot(input: TrustedRootInput): TrustedRootJson {
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [tlogInstance(input.rekorUrl, input.rekorPublicKey, input.validFrom)],
    certificateAuthorities: [
      authority(input.fulcioUrl, "sigstore", input.fulcioChain, input.validFrom),
    ],
    ctlogs: [tlogInstance(input.ctlogUrl, input.ctlogPublicKey, input.validFrom)],
    timestampAuthorities: input.tsaUrl && input.tsaChain
      ? [authority(input.tsaUrl, "tsa", input.tsaChain, input.validFrom)]
      : [],
  };
}
