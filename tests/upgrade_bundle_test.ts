/**
 * cosign v3 ("new bundle format") image signatures end to end, against the
 * real registry and the loopback Rekor: an image signed ONLY with a Sigstore
 * bundle (a referrer, listed in the `sha256-<hex>` fallback tag index)
 * upgrades into the embedded OCI store, verify-local passes, the up-to-date
 * check stays within its request budget; a bundle by another key, an SBOM
 * statement signed by the trusted key, and a rollback are refused with
 * nothing changed; prepare-archive / load-archive (offline) carry a
 * bundle-only signed image, and a tampered bundle in the archive is refused.
 */
import { rewriteArchive, snapshot } from "./helpers/files.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { unpackTar } from "modern-tar";
import { command as upgrade } from "../commands/upgrade.ts";
import { command as verifyLocal } from "../commands/verify-local.ts";
import { command as prepare } from "../commands/prepare-archive.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import {
  cosignSignStatement,
  pushBundleReferrer,
  signImageBundle,
} from "../lib/publish/bundle_sign.ts";
import { createDsseBundle } from "../lib/publish/bundle_builders.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { sha256Digest } from "../lib/digest/digest.ts";
import { referrersTag } from "../lib/registry/cosign_tags.ts";
import { BUNDLE_KIND } from "../lib/archive/prepare.ts";
import { bundlePath, signaturePath } from "../lib/store/signature_store.ts";
import { OCI_INDEX } from "../lib/oci/media_types.ts";

const dec = new TextDecoder();
const enc = new TextEncoder();

async function run(cmd: typeof upgrade, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Run load-archive as its own program WITHOUT network permission. */
async function loadOffline(args: string[]) {
  const p = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      join(import.meta.dirname!, "..", "commands", "load-archive.ts"),
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: p.code, out: dec.decode(p.stdout), err: dec.decode(p.stderr) };
}

type Json = Record<string, unknown>;
const blobName = (d: string) => `./blobs/sha256/${d.slice(7)}`;

/**
 * Replace the bundle of the archive's (only) bundle referrer by `edit(bundle)`,
 * keeping the archive consistent: new bundle blob, new referrer manifest,
 * both indexes repointed. Only the signature check can catch it.
 */
function replaceBundle(files: Map<string, Uint8Array>, edit: (bundle: Json) => Json): void {
  const index = JSON.parse(dec.decode(files.get("./dangerzone.json")!));
  const entry = index.manifests.find((m: Json) =>
    (m.annotations as Json | undefined)?.kind === BUNDLE_KIND
  );
  const manifest = JSON.parse(dec.decode(files.get(blobName(entry.digest))!));
  const layer = manifest.layers[0];
  const bundle = JSON.parse(dec.decode(files.get(blobName(layer.digest))!));
  const newBundle = enc.encode(JSON.stringify(edit(bundle)));
  files.delete(blobName(layer.digest));
  files.set(blobName(sha256Digest(newBundle)), newBundle);
  Object.assign(layer, { digest: sha256Digest(newBundle), size: newBundle.byteLength });
  const newManifest = enc.encode(JSON.stringify(manifest));
  files.delete(blobName(entry.digest));
  files.set(blobName(sha256Digest(newManifest)), newManifest);
  for (const n of ["./index.json", "./dangerzone.json"]) {
    const idx = JSON.parse(dec.decode(files.get(n)!));
    for (const m of idx.manifests) {
      if (m.digest === entry.digest) {
        Object.assign(m, { digest: sha256Digest(newManifest), size: newManifest.byteLength });
      }
    }
    files.set(n, enc.encode(JSON.stringify(idx)));
  }
}

Deno.test({
  name: "upgrade / verify-local / archives with cosign v3 bundle signatures only",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    // The lab's own Rekor is not exposed: a second local Sigstore, whose root is trusted here.
    const sigstore = await startLocalSigstore();
    try {
      const rootPath = join(lab.dir, "bundle_root.json");
      await sigstore.writeTrustedRoot(rootPath);
      const trustedRoot = await loadTrustedRoot(rootPath);
      await using proxy = startFaultProxy(lab.reg.url, () => undefined);
      const data = join(lab.dir, "data");
      const store = join(lab.dir, "store");
      const repo = "dz/bundled";
      const name = `${proxy.host}/${repo}:latest`;
      const common = [
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
      ];
      const up = (...extra: string[]) =>
        run(upgrade, [`${proxy.host}/${repo}`, ...common, ...extra]);
      const vl = () => run(verifyLocal, [name, ...common]);
      const signBundle = (digest: string, signer = lab.signer) =>
        signImageBundle({
          client: lab.client,
          repository: repo,
          digest,
          signer,
          rekorUrl: sigstore.rekorUrl,
          trustedRoot,
        });

      // v1 signed with a bundle only (no .sig tag at all) → installed.
      const d1 = await lab.push(repo, { v: "1" }, "latest");
      const s1 = await signBundle(d1);
      assert.equal(s1.added, true);
      assert.equal(await lab.client.headManifest(repo, `sha256-${d1.slice(7)}.sig`), undefined);
      const fallback = await lab.client.getManifest(repo, referrersTag(d1), [OCI_INDEX]);
      assert.equal(JSON.parse(dec.decode(fallback.bytes)).manifests.length, 1);
      let r = await up("--json");
      assert.equal(r.code, 0, r.err);
      let j = JSON.parse(r.out);
      assert.equal(j.status, "upgraded");
      assert.equal(j.digest, d1);
      assert.equal(j.tlog[0].logIndex, s1.rekor.logIndex);
      assert.equal(j.signer.keyId, lab.key.keyId);
      assert.equal(j.signatures, 1);
      // Stored as a bundle list; no (empty) cosign list is written.
      const stored = JSON.parse(await Deno.readTextFile(bundlePath(data, lab.key.keyId, d1)));
      assert.equal(stored.length, 1);
      assert.equal(await exists(signaturePath(data, lab.key.keyId, d1)), false);
      r = await vl();
      assert.equal(r.code, 0, r.err);

      // Up to date: within the request budget, no blob fetched.
      const before = proxy.seen.length;
      r = await up();
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^Already up to date: /);
      const requests = proxy.seen.slice(before);
      assert.ok(requests.length <= 4, requests.join("\n"));
      assert.ok(!requests.some((q) => q.includes("/blobs/")), requests.join("\n"));

      // v3 with a bundle by another key: refused, nothing changes.
      let snap = await snapshot(data, store);
      const d3 = await lab.push(repo, { v: "3" }, "latest");
      await signBundle(d3, lab.otherSigner);
      r = await up();
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /none of the 1 signature/);
      assert.deepEqual(await snapshot(data, store), snap);

      // v4 with an SBOM statement (DSSE, logged) signed by the TRUSTED key: not a signature.
      const d4 = await lab.push(repo, { v: "4" }, "latest");
      const sbom = await createDsseBundle({
        payload: cosignSignStatement(d4, "https://spdx.dev/Document"),
        signer: lab.signer,
        rekorUrl: sigstore.rekorUrl,
      });
      await pushBundleReferrer({
        client: lab.client,
        repository: repo,
        digest: d4,
        bundle: sbom.bundle,
        predicateType: "https://spdx.dev/Document",
      });
      r = await up();
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /not an image signature/);
      assert.deepEqual(await snapshot(data, store), snap);

      // v2 bundle-signed: upgraded; a second bundle is appended to the fallback index.
      const d2 = await lab.push(repo, { v: "2" }, "latest");
      const s2 = await signBundle(d2);
      assert.ok(s2.rekor.logIndex > s1.rekor.logIndex);
      await pushBundleReferrer({
        client: lab.client,
        repository: repo,
        digest: d2,
        bundle: sbom.bundle, // another referrer that is not a signature: ignored
      });
      r = await up("--json");
      assert.equal(r.code, 0, r.err);
      j = JSON.parse(r.out);
      assert.equal(j.status, "upgraded");
      assert.equal(j.previousDigest, d1);
      assert.equal(j.digest, d2);
      assert.equal(j.signatures, 1);
      assert.equal((await vl()).code, 0);

      // Re-point latest to v1 (older log entry): a rollback, refused.
      snap = await snapshot(data, store);
      await lab.retag(repo, d1, "latest");
      r = await up();
      assert.equal(r.code, 1);
      assert.match(r.err, /rollback/);
      assert.deepEqual(await snapshot(data, store), snap);
      await lab.retag(repo, d2, "latest");

      // verify-local: a tampered stored bundle fails; restored, it passes.
      const bFile = bundlePath(data, lab.key.keyId, d2);
      const original = await Deno.readTextFile(bFile);
      const list = JSON.parse(original);
      list[0].dsseEnvelope.payload = btoa(dec.decode(cosignSignStatement(d1)));
      await Deno.writeTextFile(bFile, JSON.stringify(list));
      r = await vl();
      assert.equal(r.code, 1);
      assert.match(r.err, /stored bundle 1 .* does not verify/);
      await Deno.writeTextFile(bFile, original);
      assert.equal((await vl()).code, 0);

      // prepare-archive of the bundle-only signed v2, then an offline load.
      const archive = join(lab.dir, "v2.tar");
      const pcommon = ["--key", lab.keyPath, "--trusted-root", rootPath, "--progress", "none"];
      r = await run(prepare, [
        "--output",
        archive,
        `${lab.reg.host}/${repo}:latest`,
        ...pcommon,
        "--json",
      ]);
      assert.equal(r.code, 0, r.err);
      const summary = JSON.parse(r.out);
      assert.equal(summary.digest, d2);
      assert.equal(summary.signatures, 1);
      const files = new Map<string, Uint8Array>();
      for (const e of await unpackTar(await Deno.readFile(archive))) {
        if (e.data && e.header.type === "file") files.set(e.header.name, e.data);
      }
      const kinds = JSON.parse(dec.decode(files.get("./dangerzone.json")!)).manifests.map((
        m: Json,
      ) => (m.annotations as Json).kind);
      // The image and only the VERIFIED bundle (the SBOM referrer stays behind); no .sig.
      assert.deepEqual(kinds, ["dev.cosignproject.cosign/image", BUNDLE_KIND]);
      // index.json: the image only (Dangerzone's images-only index).
      const images = JSON.parse(dec.decode(files.get("./index.json")!)).manifests;
      assert.deepEqual(images.map((m: Json) => (m.annotations as Json).kind), [
        "dev.cosignproject.cosign/image",
      ]);
      // Dangerzone reads only .sig signatures: said, not hidden.
      assert.equal(summary.dangerzoneCompatible, false);

      const data2 = join(lab.dir, "data2");
      const store2 = join(lab.dir, "store2");
      const lcommon = [
        "--key",
        lab.keyPath,
        "--trusted-root",
        rootPath,
        "--data-dir",
        data2,
        "--runtime",
        `oci:${store2}`,
        "--json",
      ];
      // Tampered bundles: refused, nothing loaded, nothing stored.
      const tampered: [string, (f: Map<string, Uint8Array>) => void, RegExp][] = [
        ["bundle statement swapped for v1's", (f) =>
          replaceBundle(f, (b) => {
            const env = b.dsseEnvelope as Json;
            env.payload = btoa(dec.decode(cosignSignStatement(d1)));
            return b;
          }), /bundle 1 in the archive does not verify/],
        [
          "bundle replaced by the SBOM statement",
          (f) => replaceBundle(f, () => structuredClone(sbom.bundle)),
          /does not verify/,
        ],
        ["bundle blob flipped", (f) => {
          const idx = JSON.parse(dec.decode(f.get("./dangerzone.json")!));
          const entry = idx.manifests.find((m: Json) =>
            (m.annotations as Json).kind === BUNDLE_KIND
          );
          const m = JSON.parse(dec.decode(f.get(blobName(entry.digest))!));
          const b = f.get(blobName(m.layers[0].digest))!.slice();
          b[10] ^= 1;
          f.set(blobName(m.layers[0].digest), b);
        }, /does not hash/],
        ["bundle referrer left out", (f) => {
          const idx = JSON.parse(dec.decode(f.get("./dangerzone.json")!));
          const entry = idx.manifests.find((m: Json) =>
            (m.annotations as Json).kind === BUNDLE_KIND
          );
          const m = JSON.parse(dec.decode(f.get(blobName(entry.digest))!));
          for (const d of [entry.digest, m.config.digest, m.layers[0].digest]) {
            f.delete(blobName(d));
          }
          for (const n of ["./index.json", "./dangerzone.json"]) {
            const idx = JSON.parse(dec.decode(f.get(n)!));
            idx.manifests = idx.manifests.filter((m: Json) =>
              (m.annotations as Json).kind !== BUNDLE_KIND
            );
            f.set(n, enc.encode(JSON.stringify(idx)));
          }
        }, /no signatures/],
      ];
      for (const [what, edit, pattern] of tampered) {
        const t = join(lab.dir, "t.tar");
        await rewriteArchive(archive, t, edit);
        const res = await loadOffline([t, ...lcommon]);
        assert.equal(res.code, 1, `${what}: ${res.err}`);
        assert.match(res.err, pattern, `${what}: ${res.err}`);
        assert.equal(await exists(store2), false, `${what}: nothing loaded`);
        assert.equal(await exists(join(data2, "signatures")), false, `${what}: nothing stored`);
      }

      const loaded = await loadOffline([archive, ...lcommon]);
      assert.equal(loaded.code, 0, loaded.err);
      const lj = JSON.parse(loaded.out);
      assert.equal(lj.status, "upgraded");
      assert.equal(lj.digest, d2);
      const loadedName = `${lab.reg.host}/${repo}:latest`;
      assert.equal(lj.image, loadedName);
      assert.ok(await exists(bundlePath(data2, lab.key.keyId, d2)));
      const vl2 = await run(verifyLocal, [loadedName, ...lcommon]);
      assert.equal(vl2.code, 0, vl2.err);
    } finally {
      await sigstore.close();
    }
  },
});
