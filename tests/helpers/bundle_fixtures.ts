/**
 * Test-only fixtures for `verify-bundle`: real bundles made with the local
 * Sigstore stand-in (`scripts/local_sigstore.ts`: Rekor v1, Fulcio, TSA) and
 * a hand-built Rekor v2 log (RFC 6962 tree from the stand-in's `merkle.ts`,
 * checkpoint signed with `node:crypto`) for hashedrekord-over-DSSE entries.
 * Nothing here is used by the program itself.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { dsse, json, pem } from "../../lib/npm/sigstore_core.ts";
import { startLocalSigstore } from "../../scripts/local_sigstore.ts";
import type { LocalSigstore } from "../../scripts/local_sigstore/server.ts";
import {
  BUNDLE_V03_MEDIA_TYPE,
  messageSignatureBundle,
  tlogEntryFromRekor,
} from "../../scripts/local_sigstore/bundle_from_rekor.ts";
import { hashedrekordProposal, postEntry } from "../../scripts/local_sigstore/test_support.ts";
import { MerkleTree } from "../../scripts/local_sigstore/merkle.ts";
import type { TrustedRootJson } from "../../scripts/local_sigstore/trusted_root.ts";

type Json = Record<string, unknown>;

/** Keyless identity the stand-in's Fulcio certifies. */
export const SUBJECT =
  "https://github.com/freedomofpress/dangerzone/.github/workflows/release.yml@refs/tags/v1";
/** Keyless issuer. */
export const ISSUER = "https://oidc.local.test";

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const sha256 = (b: Uint8Array) => new Uint8Array(crypto.createHash("sha256").update(b).digest());

/** A fresh P-256 key pair and its SPKI PEM / DER. */
export interface KeyPair {
  publicKey: crypto.KeyObject;
  privateKey: crypto.KeyObject;
  pem: string;
  spki: Uint8Array;
}

/** A fresh P-256 key pair. */
export function keyPair(): KeyPair {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    publicKey,
    privateKey,
    pem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
  };
}

function mockOidcToken(claims: Json): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.c2ln`;
}

/** A Fulcio leaf certificate (DER) for `kp`, naming `subject` / `issuer`. */
export async function fulcioLeaf(
  ss: LocalSigstore,
  kp: KeyPair,
  subject = SUBJECT,
  issuer = ISSUER,
): Promise<Uint8Array> {
  const res = await fetch(`${ss.fulcioUrl}/api/v2/signingCert`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      credentials: { oidcIdentityToken: mockOidcToken({ iss: issuer, sub: subject }) },
      publicKeyRequest: {
        publicKey: { algorithm: "ECDSA", content: kp.pem },
        proofOfPossession: crypto.sign("sha256", Buffer.from(subject), kp.privateKey)
          .toString("base64"),
      },
    }),
  });
  if (res.status !== 201) throw new Error(`fulcio: ${res.status} ${await res.text()}`);
  const body = await res.json();
  return new Uint8Array(pem.toDER(body.signedCertificateEmbeddedSct.chain.certificates[0]));
}

/** A running stand-in plus a temp dir holding its `trusted_root.json`. */
export interface Fixture {
  ss: LocalSigstore;
  dir: string;
  rootPath: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Start the stand-in (use with `await using`). */
export async function startFixture(): Promise<Fixture> {
  const ss = await startLocalSigstore();
  const dir = await Deno.makeTempDir({ prefix: "verify-bundle-" });
  const rootPath = `${dir}/trusted_root.json`;
  await ss.writeTrustedRoot(rootPath);
  return {
    ss,
    dir,
    rootPath,
    async [Symbol.asyncDispose]() {
      await ss.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * A v0.3 message-signature bundle for `blob`, logged in the stand-in's Rekor
 * (hashedrekord 0.0.1). With `certificate`, keyless; otherwise key-based.
 */
export async function messageBundle(
  ss: LocalSigstore,
  blob: Uint8Array,
  kp: KeyPair,
  certificate?: Uint8Array,
): Promise<Json> {
  const digest = sha256(blob);
  const signature = new Uint8Array(crypto.sign("sha256", blob, kp.privateKey));
  const verifierPem = certificate ? pem.fromDER(Buffer.from(certificate)) : kp.pem;
  const res = await postEntry(ss.rekorUrl, hashedrekordProposal(digest, signature, verifierPem));
  if (res.status !== 201) throw new Error(`rekor: ${res.status} ${res.text}`);
  return messageSignatureBundle({
    entry: res.entry!,
    digest,
    signature,
    ...(certificate ? { certificate } : { keyHint: "" }),
  });
}

/** An in-toto statement with one subject. */
export function statementFor(
  sha256Hex: string,
  type = "https://in-toto.io/Statement/v1",
): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    _type: type,
    subject: [{ name: "artifact", digest: { sha256: sha256Hex } }],
    predicateType: "https://example.org/test/v1",
    predicate: {},
  }));
}

/** DSSE envelope over `payload` (in-toto) signed by `kp`. */
export function signEnvelope(payload: Uint8Array, kp: KeyPair) {
  const payloadType = "application/vnd.in-toto+json";
  const pae = dsse.preAuthEncoding(payloadType, Buffer.from(payload));
  const sig = new Uint8Array(crypto.sign("sha256", pae, kp.privateKey));
  return { payloadType, payload, sig, pae: new Uint8Array(pae) };
}

/** A v0.3 DSSE bundle logged in the stand-in's Rekor as `dsse` 0.0.1. */
export async function dsseBundle(
  ss: LocalSigstore,
  payload: Uint8Array,
  kp: KeyPair,
  certificate?: Uint8Array,
): Promise<Json> {
  const env = signEnvelope(payload, kp);
  const envelopeJson = {
    payloadType: env.payloadType,
    payload: b64(env.payload),
    signatures: [{ keyid: "", sig: b64(env.sig) }],
  };
  const verifierPem = certificate ? pem.fromDER(Buffer.from(certificate)) : kp.pem;
  const res = await postEntry(ss.rekorUrl, {
    apiVersion: "0.0.1",
    kind: "dsse",
    spec: {
      proposedContent: {
        envelope: JSON.stringify(envelopeJson),
        verifiers: [b64(new TextEncoder().encode(verifierPem))],
      },
    },
  });
  if (res.status !== 201) throw new Error(`rekor: ${res.status} ${res.text}`);
  return {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      ...(certificate
        ? { certificate: { rawBytes: b64(certificate) } }
        : { publicKey: { hint: "" } }),
      tlogEntries: [tlogEntryFromRekor(res.entry!)],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    dsseEnvelope: envelopeJson,
  };
}

/** What to put in a hand-built Rekor v2 hashedrekord 0.0.2 body. */
export interface V2BodyOverrides {
  /** Digest recorded (default: SHA-256 of the PAE). */
  digest?: Uint8Array;
  /** Signature recorded (default: the envelope's). */
  signature?: Uint8Array;
  /** Verifier key recorded (default: the signer's). */
  spki?: Uint8Array;
}

/**
 * A Rekor v2 log of our own (a few filler leaves plus the entry), with a
 * signed checkpoint and inclusion proof, holding a `hashedrekord` 0.0.2
 * entry for a DSSE envelope: the body stores SHA-256 of the envelope's PAE.
 * Returns the bundle (key-based, `integratedTime` 0 as Rekor v2 writes) and
 * a trusted root naming only this log.
 */
export function rekorV2HashedRekordOverDsse(
  payload: Uint8Array,
  kp: KeyPair,
  overrides: V2BodyOverrides = {},
): { bundle: Json; trustedRoot: TrustedRootJson } {
  const env = signEnvelope(payload, kp);
  const body = new TextEncoder().encode(json.canonicalize({
    apiVersion: "0.0.2",
    kind: "hashedrekord",
    spec: {
      hashedRekordV002: {
        data: { algorithm: "SHA2_256", digest: b64(overrides.digest ?? sha256(env.pae)) },
        signature: {
          content: b64(overrides.signature ?? env.sig),
          verifier: {
            publicKey: { rawBytes: b64(overrides.spki ?? kp.spki) },
            keyDetails: "PKIX_ECDSA_P256_SHA_256",
          },
        },
      },
    },
  }));
  const log = keyPair();
  const logId = sha256(log.spki);
  const origin = "rekor-v2.local.test";
  const tree = new MerkleTree();
  for (const filler of ["a", "b"]) tree.append(new TextEncoder().encode(filler));
  const index = tree.append(body);
  tree.append(new TextEncoder().encode("c"));
  const size = tree.size;
  const root = tree.rootHash(size);
  const note = `${origin}\n${size}\n${b64(root)}\n`;
  const noteSig = crypto.sign("sha256", new TextEncoder().encode(note), log.privateKey);
  const hinted = b64(Buffer.concat([logId.subarray(0, 4), noteSig]));
  const checkpoint = `${note}\n\u2014 ${origin} ${hinted}\n`;
  const bundle = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      publicKey: { hint: "" },
      tlogEntries: [{
        logIndex: String(index),
        logId: { keyId: b64(logId) },
        kindVersion: { kind: "hashedrekord", version: "0.0.2" },
        integratedTime: "0",
        inclusionProof: {
          logIndex: String(index),
          rootHash: b64(root),
          treeSize: String(size),
          hashes: tree.inclusionProof(index, size).map(b64),
          checkpoint: { envelope: checkpoint },
        },
        canonicalizedBody: b64(body),
      }],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    dsseEnvelope: {
      payloadType: env.payloadType,
      payload: b64(env.payload),
      signatures: [{ keyid: "", sig: b64(env.sig) }],
    },
  };
  const trustedRoot: TrustedRootJson = {
    mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    tlogs: [{
      baseUrl: `https://${origin}`,
      hashAlgorithm: "SHA2_256",
      publicKey: {
        rawBytes: b64(log.spki),
        keyDetails: "PKIX_ECDSA_P256_SHA_256",
        validFor: { start: "2020-01-01T00:00:00Z" },
      },
      logId: { keyId: b64(logId) },
    }],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
  return { bundle, trustedRoot };
}
