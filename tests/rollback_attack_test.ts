/**
 * Rollback and freeze attacks of an attacker who controls the registry but
 * not the key, built for real against docker-registry and the loopback
 * Rekor (`../shared/cli.md`, "Rollback protection"): re-logged ECDSA twins of
 * old signatures (a NEW, higher log index), a bundle whose signed entry
 * timestamp is deleted and whose log position is rewritten, a re-logged twin
 * of the installed image (freeze), a signature made for another repository,
 * Dangerzone's `last_log_index` floor. Each is refused with nothing
 * installed and the state unchanged; the legitimate path still passes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { snapshot } from "./helpers/files.ts";
import {
  ecdsaTwin,
  publishedSignatures,
  replaySigner,
  startAttackLab,
} from "./helpers/attacker.ts";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { parseTrustedRoot } from "../lib/trust/trusted_root.ts";
import { signImage } from "../lib/publish/sign_image.ts";
import { pushBundleReferrer } from "../lib/publish/bundle_sign.ts";
import { createDsseBundle } from "../lib/publish/bundle_builders.ts";
import { lastLogIndexPath } from "../lib/store/last_log_index.ts";
import { imageStatePath, readImageState } from "../lib/store/rollback_state.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

const setup = () => startAttackLab();

Deno.test({
  ...opts,
  name: "attack: an older image's signature re-logged as its ECDSA twin is refused by build time",
  async fn() {
    const { lab, data, store, repo, up, twin } = await setup();
    await using _ = lab;
    // v1 was published (and signed) before v2, but this machine only ever installed v2.
    const d1 = await lab.push(repo, { v: "1" }, undefined, { created: "2025-01-01T00:00:00Z" });
    const i1 = await lab.sign(repo, d1);
    const d2 = await lab.push(repo, { v: "2" }, "latest", { created: "2025-06-01T00:00:00Z" });
    const i2 = await lab.sign(repo, d2);
    let r = await up("--json");
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).digest, d2);

    // The attacker logs the twin of v1's public signature: a new entry above v2's.
    const iTwin = await twin(d1);
    assert.ok(iTwin > i2 && i2 > i1);
    await lab.retag(repo, d1, "latest");
    const snap = await snapshot(data, store);
    r = await up();
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /rollback refused: the image was built 2025-01-01/);
    assert.deepEqual(await snapshot(data, store), snap);

    // --force still allows it (the user's explicit choice); once replaced, a digest stays refused.
    r = await up("--force");
    assert.equal(r.code, 0, r.err);
    await lab.retag(repo, d2, "latest");
    assert.equal((await up()).code, 0);
    await lab.retag(repo, d1, "latest");
    r = await up();
    assert.equal(r.code, 1);
    assert.match(r.err, /replaced on this machine/);
  },
});

Deno.test({
  ...opts,
  name:
    "attack: an old cosign v3 bundle's DSSE twin logged as a new dsse entry is refused by build time",
  async fn() {
    const { lab, data, store, repo, up, signBundle } = await setup();
    await using _ = lab;
    const d0 = await lab.push(repo, { v: "0" }, undefined, { created: "2024-06-01T00:00:00Z" });
    const s0 = await signBundle(d0);
    const d1 = await lab.push(repo, { v: "1" }, "latest", { created: "2025-01-01T00:00:00Z" });
    const s1 = await signBundle(d1);
    assert.equal((await up()).code, 0);

    // From v0's public bundle only: the twin of its DSSE signature, logged anew.
    const env = (s0.bundle as { dsseEnvelope: { payload: string; signatures: { sig: string }[] } })
      .dsseEnvelope;
    const sig = Uint8Array.from(atob(env.signatures[0].sig), (c) => c.charCodeAt(0));
    const relogged = await createDsseBundle({
      payload: Uint8Array.from(atob(env.payload), (c) => c.charCodeAt(0)),
      signer: replaySigner(lab.signer.publicKeyPem(), ecdsaTwin(sig)),
      rekorUrl: lab.rekorUrl,
    });
    assert.ok(relogged.rekor.logIndex > s1.rekor.logIndex);
    await pushBundleReferrer({
      client: lab.client,
      repository: repo,
      digest: d0,
      bundle: relogged.bundle,
    });
    await lab.retag(repo, d0, "latest");
    const snap = await snapshot(data, store);
    const r = await up();
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /built 2024-06-01/);
    assert.deepEqual(await snapshot(data, store), snap);
  },
});

Deno.test({
  ...opts,
  name: "attack: a re-logged twin of the installed image does not move the state (no freeze)",
  async fn() {
    // Equal build times: the fallback on log positions is what is at stake here.
    const { lab, data, repo, up, twin } = await setup();
    await using _ = lab;
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    const i1 = await lab.sign(repo, d1);
    assert.equal((await up()).code, 0);
    const before = await readImageState(data, `${lab.reg.host}/${repo}`);
    // The vendor signs v2 (not yet served); the attacker then re-logs v1's twin above it
    // and keeps serving v1 as latest.
    const d2 = await lab.push(repo, { v: "2" });
    const i2 = await lab.sign(repo, d2);
    const iTwin = await twin(d1);
    assert.ok(iTwin > i2 && i2 > i1);
    let r = await up();
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Already up to date/);
    assert.deepEqual(await readImageState(data, `${lab.reg.host}/${repo}`), before);
    assert.equal(Number(await Deno.readTextFile(lastLogIndexPath(data))), i1);
    // The vendor's real update is then accepted.
    await lab.retag(repo, d2, "latest");
    r = await up("--json");
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).digest, d2);
  },
});

Deno.test({
  ...opts,
  name: "attack: a bundle whose SET is deleted and log position rewritten is refused",
  async fn() {
    const { lab, data, store, repo, up, signBundle } = await setup();
    await using _ = lab;
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    const s1 = await signBundle(d1);
    const d2 = await lab.push(repo, { v: "2" }, "latest");
    await signBundle(d2);
    assert.equal((await up()).code, 0);

    // The attacker's copy of v1's bundle: no inclusion promise, a far-future position.
    const forged = structuredClone(s1.bundle) as {
      verificationMaterial: { tlogEntries: Record<string, unknown>[] };
    };
    const entry = forged.verificationMaterial.tlogEntries[0];
    assert.ok(entry.inclusionProof, "the local Rekor returns inclusion proofs");
    delete entry.inclusionPromise;
    entry.logIndex = "9000000000";
    entry.integratedTime = "9000000000";
    await pushBundleReferrer({ client: lab.client, repository: repo, digest: d1, bundle: forged });
    await lab.retag(repo, d1, "latest");
    const snap = await snapshot(data, store);
    const r = await up();
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /inclusion proof is for|rollback refused/);
    assert.deepEqual(await snapshot(data, store), snap);
    const state = await readImageState(data, `${lab.reg.host}/${repo}`);
    assert.ok(Object.values(state!.logs).every((p) => p.logIndex < 9000000000));
  },
});

Deno.test({
  ...opts,
  name:
    "attack: a valid signature made for another repository is refused; --signed-identity accepts a mirror",
  async fn() {
    const { lab, data, store, repo, up } = await setup();
    await using _ = lab;
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    // The key's owner signed this digest for another repository; the attacker serves it here.
    await signImage({
      client: lab.client,
      repository: repo,
      digest: d1,
      signer: lab.signer,
      rekorUrl: lab.rekorUrl,
      trustedRoot: lab.trustedRoot,
      identity: `${lab.reg.host}/other/image`,
    });
    const snap = await snapshot(data, store);
    let r = await up();
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /made for .*other\/image, not for .*dz\/app/);
    assert.deepEqual(await snapshot(data, store), snap);
    r = await up("--signed-identity", `${lab.reg.host}/other/image`);
    assert.equal(r.code, 0, r.err);
  },
});

Deno.test({
  ...opts,
  name: "attack: Dangerzone's last_log_index is a floor; our own value is not a foreign floor",
  async fn() {
    const { lab, data, store, repo, up } = await setup();
    await using _ = lab;
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    const i1 = await lab.sign(repo, d1);
    // Dangerzone (or a previous install) left a floor far above this image's entries.
    await Deno.mkdir(join(data, "signatures"), { recursive: true });
    await Deno.writeTextFile(lastLogIndexPath(data), "9000000000");
    const snap = await snapshot(data, store);
    let r = await up();
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /below the floor 9000000000/);
    assert.deepEqual(await snapshot(data, store), snap);
    // Without it: installed, and the file then holds the installed image's largest index.
    await Deno.remove(lastLogIndexPath(data));
    r = await up();
    assert.equal(r.code, 0, r.err);
    assert.equal(await Deno.readTextFile(lastLogIndexPath(data)), String(i1));
    assert.ok(await Deno.stat(imageStatePath(data, `${lab.reg.host}/${repo}`)));
    // A newer image passes our own floor (it is ours, so our per-image state decides).
    const d2 = await lab.push(repo, { v: "2" }, "latest");
    await lab.sign(repo, d2);
    assert.equal((await up()).code, 0);
  },
});

Deno.test({
  ...opts,
  name: "attack: an old signature submitted to a second log of the trusted root is no bypass",
  async fn() {
    const { lab, data, store, repo, run } = await setup();
    await using _ = lab;
    // A trusted root listing two logs: the lab's Rekor and a second one.
    const second = await startLocalSigstore();
    try {
      const both = structuredClone(lab.trustedRoot.json) as { tlogs: unknown[] };
      both.tlogs = [...both.tlogs, ...second.trustedRoot.tlogs];
      const rootPath = join(lab.dir, "two_logs.json");
      await Deno.writeTextFile(rootPath, JSON.stringify(both));
      const up = (...extra: string[]) =>
        run([
          `${lab.reg.host}/${repo}`,
          "--key",
          lab.keyPath,
          "--trusted-root",
          rootPath,
          "--data-dir",
          data,
          "--runtime",
          `oci:${store}`,
          "--progress",
          "none",
          ...extra,
        ]);
      const d1 = await lab.push(repo, { v: "1" }, undefined, { created: "2025-01-01T00:00:00Z" });
      await lab.sign(repo, d1);
      const d2 = await lab.push(repo, { v: "2" }, "latest", { created: "2025-06-01T00:00:00Z" });
      await lab.sign(repo, d2);
      assert.equal((await up()).code, 0);

      // The attacker submits v1's public signature, unchanged, to the second log.
      const [sig] = await publishedSignatures(lab.client, repo, d1);
      await signImage({
        client: lab.client,
        repository: repo,
        digest: d1,
        signer: replaySigner(lab.signer.publicKeyPem(), sig),
        rekorUrl: second.rekorUrl,
        trustedRoot: parseTrustedRoot(both, "two logs"),
      });
      await lab.retag(repo, d1, "latest");
      const snap = await snapshot(data, store);
      const r = await up();
      assert.equal(r.code, 1, r.out);
      assert.match(r.err, /built 2025-01-01/);
      assert.deepEqual(await snapshot(data, store), snap);
    } finally {
      await second.close();
    }
  },
});
