import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { dsse } from "@sigstore/core";
import { canonicalizeProposedEntry, EntryRejectedError } from "./entry_types.ts";
import { verifyPrehashed } from "./prehashed_verify.ts";
import { hashedrekordProposal } from "./test_support.ts";

const data = new TextEncoder().encode("hello, rekor");

function pemOf(key: crypto.KeyObject): string {
  return key.export({ type: "spki", format: "pem" }).toString();
}

Deno.test("prehashed: ECDSA P-256/P-384/P-521 accept good, refuse bad signatures", () => {
  const cases: [string, crypto.KeyPairKeyObjectResult, string][] = [
    ["P-256", crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }), "sha256"],
    ["P-384", crypto.generateKeyPairSync("ec", { namedCurve: "P-384" }), "sha384"],
    ["P-521", crypto.generateKeyPairSync("ec", { namedCurve: "P-521" }), "sha512"],
  ];
  for (const [name, { publicKey, privateKey }, alg] of cases) {
    const digest = crypto.createHash(alg).update(data).digest();
    const sig = crypto.sign(alg, data, privateKey);
    assert.ok(verifyPrehashed(publicKey, alg, digest, sig), name);
    const otherDigest = crypto.createHash(alg).update("other").digest();
    assert.ok(!verifyPrehashed(publicKey, alg, otherDigest, sig), `${name} wrong digest`);
    const bad = Buffer.from(sig);
    bad[bad.length - 1] ^= 1;
    assert.ok(!verifyPrehashed(publicKey, alg, digest, bad), `${name} flipped bit`);
    assert.ok(!verifyPrehashed(publicKey, alg, digest.subarray(1), sig), `${name} short digest`);
    assert.ok(!verifyPrehashed(publicKey, alg, digest, new Uint8Array(3)), `${name} garbage`);
  }
});

Deno.test("hashedrekord: refuses Ed25519 and RSA keys, bad hex, unknown algorithms", () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ed25519");
  const digest = crypto.createHash("sha256").update(data).digest();
  const sig = crypto.sign(null, digest, privateKey);
  assert.throws(
    () => canonicalizeProposedEntry(hashedrekordProposal(digest, sig, pemOf(publicKey))),
    EntryRejectedError,
  );
  // RSA: no library checks PKCS#1 v1.5 over a digest alone (lib/bundle/prehashed.ts).
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  assert.throws(
    () =>
      canonicalizeProposedEntry(
        hashedrekordProposal(
          digest,
          crypto.sign("sha256", data, rsa.privateKey),
          pemOf(rsa.publicKey),
        ),
      ),
    EntryRejectedError,
  );
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const good = hashedrekordProposal(
    digest,
    crypto.sign("sha256", data, ec.privateKey),
    pemOf(ec.publicKey),
  ) as {
    spec: { data: { hash: { algorithm: string; value: string } } };
  };
  const canonical = canonicalizeProposedEntry(good);
  assert.equal(canonical.kind, "hashedrekord");
  const body = JSON.parse(new TextDecoder().decode(canonical.body));
  assert.equal(body.spec.data.hash.value, digest.toString("hex"));
  assert.deepEqual(Object.keys(body), ["apiVersion", "kind", "spec"]);
  const upper = structuredClone(good);
  upper.spec.data.hash.value = upper.spec.data.hash.value.toUpperCase();
  assert.throws(() => canonicalizeProposedEntry(upper), EntryRejectedError);
  const md5 = structuredClone(good);
  md5.spec.data.hash.algorithm = "md5";
  assert.throws(() => canonicalizeProposedEntry(md5), EntryRejectedError);
});

Deno.test("dsse: accepts a correctly signed envelope, refuses a forged one", () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const payloadType = "application/vnd.in-toto+json";
  const payload = Buffer.from(JSON.stringify({ _type: "https://in-toto.io/Statement/v1" }));
  const sig = crypto.sign("sha256", dsse.preAuthEncoding(payloadType, payload), privateKey);
  const proposal = (p: Buffer, s: Buffer) => ({
    apiVersion: "0.0.1",
    kind: "dsse",
    spec: {
      proposedContent: {
        envelope: JSON.stringify({
          payloadType,
          payload: p.toString("base64"),
          signatures: [{ keyid: "", sig: s.toString("base64") }],
        }),
        verifiers: [Buffer.from(pemOf(publicKey)).toString("base64")],
      },
    },
  });
  const canonical = canonicalizeProposedEntry(proposal(payload, sig));
  const body = JSON.parse(new TextDecoder().decode(canonical.body));
  assert.equal(body.kind, "dsse");
  assert.equal(body.spec.signatures.length, 1);
  assert.equal(body.spec.signatures[0].signature, sig.toString("base64"));
  assert.equal(
    body.spec.payloadHash.value,
    crypto.createHash("sha256").update(payload).digest("hex"),
  );
  assert.throws(
    () => canonicalizeProposedEntry(proposal(Buffer.from('{"forged":true}'), sig)),
    /does not verify/,
  );
});
