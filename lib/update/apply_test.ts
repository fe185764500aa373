/**
 * The shared pipeline `applyVerifiedUpdate`: crash at every commit step
 * leaves a state the next run repairs and `verify-local` never wrongly
 * passes; invalid signatures are dropped, not stored; concurrent updates
 * serialize; a stale lock is broken.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSigningLab } from "../../tests/helpers/signed_images.ts";
import { RegistrySource } from "../image/source.ts";
import { OciStoreRuntime } from "../runtime/oci_store.ts";
import { readSignatures } from "../store/signature_store.ts";
import { readImageState } from "../store/rollback_state.ts";
import { repositoryOf } from "../signatures/signed_identity.ts";
import { applyVerifiedUpdate } from "./apply.ts";
import { verifySignatureReports } from "./verified_set.ts";
import type { UpdateRequest } from "./update_request.ts";
import { crashingRecords, type CrashPoint } from "../../tests/helpers/crash_records.ts";
import { verifyLocalImage } from "./verify_local.ts";
import { readInstalled } from "./installed.ts";
import { VerificationError } from "../errors/errors.ts";
import { findSignatures, requireWellFormed } from "../image/discovery.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function setup() {
  const lab = await startSigningLab();
  const repo = "dz/apply";
  const source = new RegistrySource(lab.client, repo, { tag: "latest" });
  const request = async (digest: string, extra: Partial<UpdateRequest> = {}) => ({
    source,
    imageName: `${lab.reg.host}/${repo}:latest`,
    signedDigest: digest,
    signatures: requireWellFormed(await findSignatures(source, digest)).map((f) => f.signature),
    key: lab.key,
    trustedRoot: lab.trustedRoot,
    dataDir: join(lab.dir, "data"),
    runtime: new OciStoreRuntime(join(lab.dir, "store")),
    ...extra,
  });
  return { lab, repo, request };
}

Deno.test({
  ...opts,
  name: "applyVerifiedUpdate: a crash at each step is repaired by the next run",
  async fn() {
    const { lab, repo, request } = await setup();
    await using _ = lab;
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    await lab.sign(repo, d1);
    const first = await applyVerifiedUpdate(await request(d1));
    assert.equal(first.status, "upgraded");
    let previous = d1;
    for (
      const [i, point] of (["after-install", "after-signatures", "after-rollback"] as CrashPoint[])
        .entries()
    ) {
      const d = await lab.push(repo, { v: `crash-${i}` }, "latest");
      await lab.sign(repo, d);
      const req = await request(d);
      await assert.rejects(
        applyVerifiedUpdate({ ...req, records: crashingRecords(point) }),
        /simulated crash/,
      );
      // The record still names the previous image; the runtime holds the new one:
      // verify-local fails safe instead of vouching for either.
      assert.equal((await readInstalled(req.dataDir, req.imageName))?.signedDigest, previous);
      await assert.rejects(verifyLocalImage(req), VerificationError);
      // The lock was released; the next run completes.
      const again = await applyVerifiedUpdate(req);
      assert.equal(again.status, "upgraded");
      assert.equal(again.previousDigest, previous);
      const ok = await verifyLocalImage(req);
      assert.equal(ok.signedDigest, d);
      previous = d;
    }
  },
});

Deno.test({
  ...opts,
  name: "applyVerifiedUpdate: invalid signatures are dropped, not stored; none valid refuses",
  async fn() {
    const { lab, repo, request } = await setup();
    await using _ = lab;
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    await lab.sign(repo, d1, lab.otherSigner);
    const req = await request(d1);
    await assert.rejects(applyVerifiedUpdate(req), /NO_VALID_SIGNATURE|none of the 1/);
    assert.equal(await readInstalled(req.dataDir, req.imageName), undefined);
    assert.equal(await readImageState(req.dataDir, repositoryOf(req.imageName)!), undefined);

    await lab.sign(repo, d1); // now one good, one by another key
    const req2 = await request(d1);
    assert.equal(req2.signatures.length, 2);
    const r = await applyVerifiedUpdate(req2);
    assert.equal(r.verifiedSignatures, 1);
    const installedAt = (await readImageState(req.dataDir, repositoryOf(req.imageName)!))!;
    assert.equal((await readSignatures(req.dataDir, lab.key.keyId, d1))?.length, 1);

    // A signature for another digest does not count for this one.
    const d2 = await lab.push(repo, { v: "2" }, "latest");
    await assert.rejects(
      applyVerifiedUpdate({ ...await request(d2), signatures: req2.signatures }),
      /none of the 2/,
    );

    // Re-signing the installed digest: up to date, the new signature is kept.
    await lab.sign(repo, d1, lab.signer, { again: "1" });
    const r3 = await applyVerifiedUpdate(await request(d1));
    assert.equal(r3.status, "up-to-date");
    assert.equal((await readSignatures(req.dataDir, lab.key.keyId, d1))?.length, 2);
    // ...and the rollback state does not move (new entries never move it: no freeze).
    const state = await readImageState(req.dataDir, repositoryOf(req.imageName)!);
    assert.deepEqual(state, installedAt);
    assert.equal(
      Object.values(state!.logs)[0].logIndex,
      Math.min(...r.tlog.map((t) => t.logIndex)),
    );
  },
});

Deno.test({
  ...opts,
  name: "applyVerifiedUpdate: concurrent updates serialize; a stale lock is broken",
  async fn() {
    const { lab, repo, request } = await setup();
    await using _ = lab;
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    await lab.sign(repo, d1);
    const req = await request(d1);
    // A lock left by a dead process (pid far above pid_max).
    await Deno.mkdir(req.dataDir, { recursive: true });
    await Deno.writeTextFile(
      join(req.dataDir, "lock"),
      JSON.stringify({ pid: 99999999, host: Deno.hostname(), nonce: "dead", created: 0 }),
    );
    const results = await Promise.all([applyVerifiedUpdate(req), applyVerifiedUpdate(req)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ["up-to-date", "upgraded"]);
    await assert.rejects(Deno.stat(join(req.dataDir, "lock")), Deno.errors.NotFound);
    assert.equal((await verifyLocalImage(req)).signedDigest, d1);
  },
});

Deno.test({
  ...opts,
  name:
    "applyVerifiedUpdate: reports verified by the caller are used only for their digest, and the identity is still checked",
  async fn() {
    const { lab, repo, request } = await setup();
    await using _ = lab;
    const d1 = await lab.push(repo, { v: "pre-verified-1" }, "latest");
    await lab.sign(repo, d1);
    const d2 = await lab.push(repo, { v: "pre-verified-2" }, "latest");
    await lab.sign(repo, d2);
    const req1 = await request(d1);
    const reports1 = verifySignatureReports(req1.signatures, d1, lab.key, lab.trustedRoot);
    assert.ok(reports1.reports.every((r) => r.ok));
    // Reports of another image's signatures cannot stand in for this one's.
    await assert.rejects(
      applyVerifiedUpdate({ ...(await request(d2)), verification: reports1 }),
      /signatures verified for sha256:.* not sha256:/,
    );
    // Valid reports made for this image still go through the signed-identity check.
    await assert.rejects(
      applyVerifiedUpdate({
        ...req1,
        imageName: "other.example/x/y:latest",
        verification: reports1,
      }),
      (e) => e instanceof VerificationError && e.code === "IDENTITY_MISMATCH",
    );
    assert.equal(await readInstalled(join(lab.dir, "data"), req1.imageName), undefined);
    // Reports in which nothing verified install nothing, whatever `signatures` holds.
    const failed = { ...reports1, reports: reports1.reports.map((r) => ({ ...r, ok: false })) };
    await assert.rejects(
      applyVerifiedUpdate({
        ...req1,
        verification: failed as unknown as typeof reports1,
      }),
      (e) => e instanceof VerificationError && e.code === "NO_VALID_SIGNATURE",
    );
    const done = await applyVerifiedUpdate({ ...req1, verification: reports1 });
    assert.equal(done.status, "upgraded");
    assert.equal(done.digest, d1);
  },
});
