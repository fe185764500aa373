import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import type { TransparencyLogEntry } from "@sigstore/bundle";
import { VerificationError } from "../errors/errors.ts";
import { checkTlogBody, type SignedContent } from "./tlog_body.ts";
import { keyPair } from "../../tests/helpers/bundle_fixtures.ts";

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const sha = (s: string) => new Uint8Array(crypto.createHash("sha256").update(s).digest());

function entry(body: unknown): TransparencyLogEntry {
  const b = body as { kind: string; apiVersion: string };
  return {
    kindVersion: { kind: b.kind, version: b.apiVersion },
    canonicalizedBody: Buffer.from(JSON.stringify(body)),
  } as unknown as TransparencyLogEntry;
}

const kp = keyPair();
const other = keyPair();
const sig = new Uint8Array([1, 2, 3, 4]);
const dsseContent: SignedContent = {
  type: "dsse",
  signature: sig,
  signedDigest: { algorithm: "sha256", digest: sha("pae") },
  payloadSha256: sha("payload"),
};

function dsseV2(spki: Uint8Array, payloadHash = sha("payload"), signature = sig) {
  return {
    apiVersion: "0.0.2",
    kind: "dsse",
    spec: {
      dsseV002: {
        payloadHash: { algorithm: "SHA2_256", digest: b64(payloadHash) },
        signatures: [{ content: b64(signature), verifier: { publicKey: { rawBytes: b64(spki) } } }],
      },
    },
  };
}

function refused(fn: () => void) {
  assert.throws(fn, (e) => e instanceof VerificationError && e.code === "TLOG_MISMATCH");
}

Deno.test("tlog body: dsse 0.0.2 (Rekor v2) must name this signer, signature and payload", () => {
  checkTlogBody(entry(dsseV2(kp.spki)), dsseContent, { spki: kp.spki });
  refused(() => checkTlogBody(entry(dsseV2(other.spki)), dsseContent, { spki: kp.spki }));
  refused(() =>
    checkTlogBody(entry(dsseV2(kp.spki, sha("other"))), dsseContent, { spki: kp.spki })
  );
  refused(() =>
    checkTlogBody(entry(dsseV2(kp.spki, undefined, new Uint8Array([9]))), dsseContent, {
      spki: kp.spki,
    })
  );
  // a keyless signer is never matched by a bare key
  refused(() =>
    checkTlogBody(entry(dsseV2(kp.spki)), dsseContent, { certificate: new Uint8Array([0x30]) })
  );
});

Deno.test("tlog body: a message signature is only accepted in a hashedrekord entry", () => {
  const message: SignedContent = {
    type: "message",
    signature: sig,
    signedDigest: { algorithm: "sha256", digest: sha("payload") },
  };
  refused(() => checkTlogBody(entry(dsseV2(kp.spki)), message, { spki: kp.spki }));
  refused(() =>
    checkTlogBody(entry({ apiVersion: "0.0.1", kind: "rekord", spec: {} }), message, {
      spki: kp.spki,
    })
  );
  // kind/version in the bundle must be the body's
  const e = entry(dsseV2(kp.spki));
  (e as { kindVersion: { version: string } }).kindVersion.version = "0.0.1";
  refused(() => checkTlogBody(e, dsseContent, { spki: kp.spki }));
});
