import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import crypto from "node:crypto";
import { json } from "@sigstore/core";
import { messageSignatureBundle } from "./bundle_from_rekor.ts";
import { startLocalSigstore } from "./server.ts";
import {
  getEntry,
  hashedrekordProposal,
  postEntry,
  signBlob,
  verifyBundle,
} from "./test_support.ts";
import { installNodeVerifyShim } from "../../lib/crypto/node_verify_shim.ts";

Deno.test("rekor: sequential log indexes, non-decreasing times, fetch by uuid and logIndex", async () => {
  const ss = await startLocalSigstore();
  try {
    const created = [];
    for (let i = 0; i < 3; i++) {
      const s = signBlob();
      const res = await postEntry(
        ss.rekorUrl,
        hashedrekordProposal(s.digest, s.signature, s.publicKeyPem),
      );
      assert.equal(res.status, 201, res.text);
      assert.equal(res.location, `/api/v1/log/entries/${res.uuid}`);
      created.push(res);
    }
    assert.deepEqual(created.map((c) => c.entry!.logIndex), [0, 1, 2]);
    const times = created.map((c) => c.entry!.integratedTime);
    assert.ok(times[0] <= times[1] && times[1] <= times[2]);
    assert.ok(Math.abs(times[0] - Date.now() / 1000) < 3600, "integratedTime is in seconds");
    for (const c of created) {
      assert.match(c.uuid!, /^[0-9a-f]{80}$/);
      assert.equal(c.entry!.logID, Buffer.from(ss.log.logId).toString("hex"));
      const byUuid = await getEntry(`${ss.rekorUrl}/api/v1/log/entries/${c.uuid}`);
      assert.equal(byUuid.status, 200);
      assert.equal(byUuid.uuid, c.uuid);
      assert.equal(byUuid.entry!.body, c.entry!.body);
      assert.equal(byUuid.entry!.logIndex, c.entry!.logIndex);
      assert.equal(byUuid.entry!.verification.inclusionProof.treeSize, 3);
      // the short (64 hex) UUID works too
      const short = await getEntry(`${ss.rekorUrl}/api/v1/log/entries/${c.uuid!.slice(16)}`);
      assert.equal(short.uuid, c.uuid);
      const byIndex = await getEntry(
        `${ss.rekorUrl}/api/v1/log/entries?logIndex=${c.entry!.logIndex}`,
      );
      assert.equal(byIndex.uuid, c.uuid);
      assert.equal(byIndex.entry!.integratedTime, c.entry!.integratedTime);
      assert.equal(
        byIndex.entry!.verification.signedEntryTimestamp,
        c.entry!.verification.signedEntryTimestamp,
      );
    }
    assert.equal((await getEntry(`${ss.rekorUrl}/api/v1/log/entries?logIndex=3`)).status, 404);
    assert.equal(
      (await getEntry(`${ss.rekorUrl}/api/v1/log/entries/${"ab".repeat(32)}`)).status,
      404,
    );
    const info = await (await fetch(`${ss.rekorUrl}/api/v1/log`)).json();
    assert.equal(info.treeSize, 3);
  } finally {
    await ss.close();
  }
});

Deno.test("rekor: integrated times never go backwards even if the clock does", async () => {
  let now = Date.parse("2030-01-01T00:00:10Z");
  const ss = await startLocalSigstore({ clock: () => new Date(now) });
  try {
    const a = signBlob();
    const first = await postEntry(
      ss.rekorUrl,
      hashedrekordProposal(a.digest, a.signature, a.publicKeyPem),
    );
    now -= 5000;
    const b = signBlob();
    const second = await postEntry(
      ss.rekorUrl,
      hashedrekordProposal(b.digest, b.signature, b.publicKeyPem),
    );
    assert.equal(first.entry!.integratedTime, Date.parse("2030-01-01T00:00:10Z") / 1000);
    assert.equal(second.entry!.integratedTime, first.entry!.integratedTime);
    assert.equal(second.entry!.logIndex, 1);
  } finally {
    await ss.close();
  }
});

Deno.test("rekor: the SET is the log key's signature over canonical {body, integratedTime, logID, logIndex}", async () => {
  installNodeVerifyShim();
  const ss = await startLocalSigstore();
  try {
    const s = signBlob();
    const { entry } = await postEntry(
      ss.rekorUrl,
      hashedrekordProposal(s.digest, s.signature, s.publicKeyPem),
    );
    const payload = (e: typeof entry) =>
      Buffer.from(json.canonicalize({
        body: e!.body,
        integratedTime: e!.integratedTime,
        logID: e!.logID,
        logIndex: e!.logIndex,
      }));
    const logKey = crypto.createPublicKey({
      key: Buffer.from(ss.log.publicKeyDer),
      format: "der",
      type: "spki",
    });
    const set = Buffer.from(entry!.verification.signedEntryTimestamp, "base64");
    assert.ok(crypto.verify("sha256", payload(entry), logKey, set));
    // the SET binds the index: the same SET does not verify for another index
    assert.ok(
      !crypto.verify("sha256", payload({ ...entry!, logIndex: entry!.logIndex + 1 }), logKey, set),
    );
  } finally {
    await ss.close();
  }
});

Deno.test("rekor: rejects (400) a hashedrekord whose signature does not verify", async () => {
  const ss = await startLocalSigstore();
  try {
    const s = signBlob();
    const other = signBlob();
    // signature by another key
    const wrongKey = await postEntry(
      ss.rekorUrl,
      hashedrekordProposal(s.digest, other.signature, s.publicKeyPem),
    );
    assert.equal(wrongKey.status, 400);
    assert.match(wrongKey.text, /invalid signature/);
    // right key, signature over another artifact
    const wrongDigest = await postEntry(
      ss.rekorUrl,
      hashedrekordProposal(other.digest, s.signature, s.publicKeyPem),
    );
    assert.equal(wrongDigest.status, 400);
    // flipped bit in the signature
    const flipped = new Uint8Array(s.signature);
    flipped[flipped.length - 1] ^= 1;
    assert.equal(
      (await postEntry(ss.rekorUrl, hashedrekordProposal(s.digest, flipped, s.publicKeyPem)))
        .status,
      400,
    );
    // malformed entries
    assert.equal((await postEntry(ss.rekorUrl, { kind: "hashedrekord" })).status, 400);
    assert.equal(
      (await postEntry(ss.rekorUrl, { kind: "rekord", apiVersion: "0.0.1", spec: {} })).status,
      400,
    );
    const badKey = hashedrekordProposal(s.digest, s.signature, "not a key");
    assert.equal((await postEntry(ss.rekorUrl, badKey)).status, 400);
    const res = await fetch(`${ss.rekorUrl}/api/v1/log/entries`, { method: "POST", body: "{" });
    assert.equal(res.status, 400);
    await res.body?.cancel();
    assert.equal(ss.log.size, 0, "nothing was logged");
    // and the good one is accepted
    const good = await postEntry(
      ss.rekorUrl,
      hashedrekordProposal(s.digest, s.signature, s.publicKeyPem),
    );
    assert.equal(good.status, 201);
    assert.equal(good.entry!.logIndex, 0);
  } finally {
    await ss.close();
  }
});

Deno.test("rekor: a duplicate entry gets 409 with the existing entry's location", async () => {
  const ss = await startLocalSigstore();
  try {
    const s = signBlob();
    const proposal = hashedrekordProposal(s.digest, s.signature, s.publicKeyPem);
    const first = await postEntry(ss.rekorUrl, proposal);
    const again = await postEntry(ss.rekorUrl, proposal);
    assert.equal(again.status, 409);
    assert.equal(again.location, `/api/v1/log/entries/${first.uuid}`);
    assert.equal(ss.log.size, 1);
  } finally {
    await ss.close();
  }
});

Deno.test("rekor: entries verify with @sigstore/verify against the generated trusted root", async () => {
  const ss = await startLocalSigstore();
  const dir = await Deno.makeTempDir();
  try {
    await ss.writeTrustedRoot(`${dir}/trusted_root.json`);
    const trustedRoot = JSON.parse(await Deno.readTextFile(`${dir}/trusted_root.json`));
    const signed = [];
    for (let i = 0; i < 5; i++) {
      const s = signBlob(new TextEncoder().encode(`artifact ${i}`));
      const res = await postEntry(
        ss.rekorUrl,
        hashedrekordProposal(s.digest, s.signature, s.publicKeyPem),
      );
      assert.equal(res.status, 201);
      // as returned on upload (inclusion proof against the tree at that size)
      verifyBundle(
        messageSignatureBundle({
          entry: res.entry!,
          digest: s.digest,
          signature: s.signature,
          keyHint: "k",
        }),
        s.blob,
        trustedRoot,
        { k: s.publicKey },
      );
      signed.push({ s, uuid: res.uuid! });
    }
    // as fetched later (proofs against the final 5-entry tree)
    for (const { s, uuid } of signed) {
      const { entry } = await getEntry(`${ss.rekorUrl}/api/v1/log/entries/${uuid}`);
      assert.equal(entry!.verification.inclusionProof.treeSize, 5);
      const bundle = messageSignatureBundle({
        entry: entry!,
        digest: s.digest,
        signature: s.signature,
        keyHint: "k",
      });
      verifyBundle(bundle, s.blob, trustedRoot, { k: s.publicKey });
      // the verifier rejects it for another artifact ...
      assert.throws(() =>
        verifyBundle(bundle, new TextEncoder().encode("other"), trustedRoot, { k: s.publicKey })
      );
      // ... with a tampered log index (SET and proof no longer match) ...
      const tampered = structuredClone(bundle) as {
        verificationMaterial: { tlogEntries: { logIndex: string }[] };
      };
      tampered.verificationMaterial.tlogEntries[0].logIndex = String(entry!.logIndex + 7);
      assert.throws(() => verifyBundle(tampered, s.blob, trustedRoot, { k: s.publicKey }));
      // ... and with a tampered inclusion proof (the SET alone does not carry it)
      const badProof = structuredClone(bundle) as {
        verificationMaterial: { tlogEntries: { inclusionProof: { hashes: string[] } }[] };
      };
      const hashes = badProof.verificationMaterial.tlogEntries[0].inclusionProof.hashes;
      assert.ok(hashes.length > 0);
      hashes[0] = Buffer.alloc(32, 7).toString("base64");
      assert.throws(
        () => verifyBundle(badProof, s.blob, trustedRoot, { k: s.publicKey }),
        /root hash does not match inclusion proof/,
      );
    }
    // ... and under a trusted root for another log
    const other = await startLocalSigstore();
    try {
      const { s, uuid } = signed[0];
      const { entry } = await getEntry(`${ss.rekorUrl}/api/v1/log/entries/${uuid}`);
      const bundle = messageSignatureBundle({
        entry: entry!,
        digest: s.digest,
        signature: s.signature,
        keyHint: "k",
      });
      assert.throws(
        () => verifyBundle(bundle, s.blob, other.trustedRoot, { k: s.publicKey }),
        /inclusion promise could not be verified/,
      );
    } finally {
      await other.close();
    }
  } finally {
    await ss.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rekor: trusted root has the log key, log ID and media type", async () => {
  const ss = await startLocalSigstore();
  try {
    const root = ss.trustedRoot;
    assert.equal(root.mediaType, "application/vnd.dev.sigstore.trustedroot+json;version=0.1");
    assert.equal(root.tlogs.length, 1);
    const tlog = root.tlogs[0];
    assert.equal(tlog.baseUrl, ss.rekorUrl);
    assert.equal(tlog.publicKey.keyDetails, "PKIX_ECDSA_P256_SHA_256");
    const spki = Buffer.from(tlog.publicKey.rawBytes, "base64");
    assert.deepEqual(new Uint8Array(spki), ss.log.publicKeyDer);
    assert.equal(
      tlog.logId.keyId,
      crypto.createHash("sha256").update(spki).digest("base64"),
    );
    assert.equal(root.certificateAuthorities.length, 1);
    assert.equal(root.ctlogs.length, 1);
    assert.equal(root.timestampAuthorities[0].certChain.certificates.length, 2);
    const pemRes = await fetch(`${ss.rekorUrl}/api/v1/log/publicKey`);
    const pemKey = crypto.createPublicKey(await pemRes.text());
    assert.deepEqual(
      new Uint8Array(pemKey.export({ type: "spki", format: "der" })),
      ss.log.publicKeyDer,
    );
  } finally {
    await ss.close();
  }
});
