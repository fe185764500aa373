import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { pem } from "@sigstore/core";
import { messageSignatureBundle } from "./bundle_from_rekor.ts";
import { type LocalSigstore, startLocalSigstore } from "./server.ts";
import { hashedrekordProposal, postEntry, signBlob, verifyBundle } from "./test_support.ts";

const SUBJECT =
  "https://github.com/freedomofpress/dangerzone/.github/workflows/release.yml@refs/tags/v1";
const ISSUER = "https://oidc.local.test";

/** An unsigned JWT: the mock Fulcio decodes the claims without checking them. */
function mockOidcToken(claims: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(claims)}.c2ln`;
}

/** Ask the stand-in's Fulcio for a certificate for `key`; returns the DER chain. */
async function fulcioCertificate(
  ss: LocalSigstore,
  key: crypto.KeyObject,
  privateKey: crypto.KeyObject,
): Promise<Uint8Array[]> {
  const res = await fetch(`${ss.fulcioUrl}/api/v2/signingCert`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      credentials: { oidcIdentityToken: mockOidcToken({ iss: ISSUER, sub: SUBJECT }) },
      publicKeyRequest: {
        publicKey: {
          algorithm: "ECDSA",
          content: key.export({ type: "spki", format: "pem" }).toString(),
        },
        proofOfPossession: crypto.sign("sha256", Buffer.from(SUBJECT), privateKey)
          .toString("base64"),
      },
    }),
  });
  assert.equal(res.status, 201);
  const body = await res.json();
  return body.signedCertificateEmbeddedSct.chain.certificates.map((c: string) =>
    new Uint8Array(pem.toDER(c))
  );
}

async function timestampFor(ss: LocalSigstore, signature: Uint8Array): Promise<Uint8Array> {
  const res = await fetch(`${ss.tsaUrl}/api/v1/timestamp`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      artifactHash: crypto.createHash("sha256").update(signature).digest("base64"),
      hashAlgorithm: "sha256",
      certificates: false,
    }),
  });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("content-type"), "application/timestamp-reply");
  return new Uint8Array(await res.arrayBuffer());
}

Deno.test("fulcio: an issued certificate chains to the trusted root and verifies with Rekor + TSA", async () => {
  const ss = await startLocalSigstore();
  try {
    const s = signBlob(new TextEncoder().encode("keyless artifact"));
    const chain = await fulcioCertificate(ss, s.publicKey, s.privateKey);
    assert.equal(chain.length, 2);
    const leaf = new crypto.X509Certificate(Buffer.from(chain[0]));
    const root = new crypto.X509Certificate(Buffer.from(chain[1]));
    const trustedCa = ss.trustedRoot.certificateAuthorities[0].certChain.certificates[0];
    assert.equal(Buffer.from(chain[1]).toString("base64"), trustedCa.rawBytes);
    assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey));

    const leafPem = pem.fromDER(Buffer.from(chain[0]));
    const res = await postEntry(ss.rekorUrl, hashedrekordProposal(s.digest, s.signature, leafPem));
    assert.equal(res.status, 201, res.text);
    const tsr = await timestampFor(ss, s.signature);
    // bundles carry the DER TimeStampResp as the TSA returned it
    const bundle = messageSignatureBundle({
      entry: res.entry!,
      digest: s.digest,
      signature: s.signature,
      certificate: chain[0],
      rfc3161Timestamps: [tsr],
    });
    const policy = { subjectAlternativeName: SUBJECT, extensions: { issuer: ISSUER } };
    // Fulcio chain + SCT (ctlog) + Rekor SET/proof + RFC 3161 timestamp all verified
    verifyBundle(bundle, s.blob, ss.trustedRoot, {}, policy, {
      ctlogThreshold: 1,
      timestampThreshold: 2,
    });
    // wrong identity is refused
    assert.throws(
      () =>
        verifyBundle(bundle, s.blob, ss.trustedRoot, {}, {
          subjectAlternativeName: "https://evil.example/",
          extensions: { issuer: ISSUER },
        }),
      /subject|SAN|identity/i,
    );
    // and the chain does not verify under another stand-in's root
    const other = await startLocalSigstore();
    try {
      const mixed = { ...other.trustedRoot, tlogs: ss.trustedRoot.tlogs };
      assert.throws(() => verifyBundle(bundle, s.blob, mixed, {}, policy));
    } finally {
      await other.close();
    }
  } finally {
    await ss.close();
  }
});

Deno.test("fulcio/tsa: trust bundle and TSA cert chain endpoints match the trusted root", async () => {
  const ss = await startLocalSigstore();
  try {
    const bundle = await (await fetch(`${ss.fulcioUrl}/api/v2/trustBundle`)).json();
    assert.equal(
      Buffer.from(pem.toDER(bundle.chains[0].certificates[0])).toString("base64"),
      ss.trustedRoot.certificateAuthorities[0].certChain.certificates[0].rawBytes,
    );
    const chainPem = await (await fetch(`${ss.tsaUrl}/api/v1/timestamp/certchain`)).text();
    const certs = chainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!;
    assert.deepEqual(
      certs.map((c) => Buffer.from(pem.toDER(c)).toString("base64")),
      ss.trustedRoot.timestampAuthorities[0].certChain.certificates.map((c) => c.rawBytes),
    );
  } finally {
    await ss.close();
  }
});
