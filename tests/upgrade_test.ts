/**
 * `upgrade` end to end against the real registry and the loopback Rekor,
 * into the embedded OCI store and into podman (vfs storage set through
 * `CONTAINERS_STORAGE_CONF`): install, up to date in ≤ 4 requests,
 * unsigned / wrongly signed / rolled back / corrupted images refused with
 * nothing changed, `--force` rollback, and a multi-arch index.
 */
import { vfsStorageConf } from "./helpers/podman_storage.ts";
import { snapshot } from "./helpers/files.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as upgrade } from "../commands/upgrade.ts";
import { command as verifyLocal } from "../commands/verify-local.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { OciLayout, REF_NAME } from "../lib/oci/layout.ts";
import { buildImage } from "./helpers/image_build.ts";
import { defaultPlatform } from "../lib/oci/platform.ts";
import { onPath } from "../lib/runtime/exec.ts";
import { pushImage } from "./helpers/image_push.ts";
import { capturingSinks } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

const sinks = () => capturingSinks(testEnv);

async function run(cmd: typeof upgrade, args: string[]) {
  const s = sinks();
  const code = await cmd.main(args, s.sinks);
  return { code, out: s.out.join("\n"), err: s.err.join("\n") };
}

/** `skopeo inspect oci:DIR:NAME`, parsed. */
async function skopeoInspect(ref: string): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("skopeo", {
    args: ["inspect", ref],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`skopeo inspect ${ref}: ${dec.decode(out.stderr).trim()}`);
  return JSON.parse(dec.decode(out.stdout));
}

async function flipByte(path: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  await Deno.writeFile(path, bytes);
}

Deno.test({
  name: "upgrade (oci store): install, up to date, refusals, rollback, --force, corruption",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    await using proxy = startFaultProxy(lab.reg.url, () => undefined);
    const data = join(lab.dir, "data");
    const store = join(lab.dir, "store");
    const repo = "dz/app";
    const name = `${proxy.host}/${repo}:latest`;
    const common = [
      ...lab.trustArgs,
      "--data-dir",
      data,
      "--runtime",
      `oci:${store}`,
      "--progress",
      "none",
      // Served through the proxy (another host:port): a mirror of what was signed.
      "--signed-identity",
      `${lab.reg.host}/${repo}`,
    ];
    const up = (...extra: string[]) => run(upgrade, [`${proxy.host}/${repo}`, ...common, ...extra]);
    const vl = () => run(verifyLocal, [name, ...common]);

    // v1 signed → installed.
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    const i1 = await lab.sign(repo, d1);
    let r = await up("--json");
    assert.equal(r.code, 0, r.err);
    let j = JSON.parse(r.out);
    assert.equal(j.status, "upgraded");
    assert.equal(j.digest, d1);
    assert.equal(j.previousDigest, null);
    assert.equal(j.tlog[0].logIndex, i1);
    assert.equal(j.signer.keyId, lab.key.keyId);
    // skopeo reads the store under the full name.
    const info = await skopeoInspect(`oci:${store}:${name}`);
    assert.equal(info.Digest, d1);
    assert.equal((await vl()).code, 0);

    // Second run: up to date, at most 4 requests, no blob fetched.
    const before = proxy.seen.length;
    r = await up();
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Already up to date: /);
    const requests = proxy.seen.slice(before);
    assert.ok(requests.length <= 4, requests.join("\n"));
    assert.ok(!requests.some((q) => q.includes("/blobs/")), requests.join("\n"));

    // Unsigned v3: refused, nothing changes.
    let snap = await snapshot(data, store);
    const d3 = await lab.push(repo, { v: "3" }, "latest");
    r = await up();
    assert.equal(r.code, 1);
    assert.match(r.err, /no signatures found/);
    assert.deepEqual(await snapshot(data, store), snap);

    // v4 signed by another key: refused, nothing changes.
    const d4 = await lab.push(repo, { v: "4" }, "latest");
    await lab.sign(repo, d4, lab.otherSigner);
    r = await up();
    assert.equal(r.code, 1);
    assert.match(r.err, /none of the 1 signature/);
    assert.deepEqual(await snapshot(data, store), snap);
    assert.notEqual(d3, d4);

    // v2 signed: upgraded.
    const d2 = await lab.push(repo, { v: "2" }, "latest");
    const i2 = await lab.sign(repo, d2);
    assert.ok(i2 > i1);
    r = await up("--json");
    assert.equal(r.code, 0, r.err);
    j = JSON.parse(r.out);
    assert.equal(j.status, "upgraded");
    assert.equal(j.previousDigest, d1);
    assert.equal(j.digest, d2);
    assert.equal((await skopeoInspect(`oci:${store}:${name}`)).Digest, d2);
    assert.equal((await vl()).code, 0);

    // Re-point latest to v1 (older log entry): refused as a rollback.
    snap = await snapshot(data, store);
    await lab.retag(repo, d1, "latest");
    r = await up();
    assert.equal(r.code, 1);
    assert.match(r.err, /rollback/);
    assert.deepEqual(await snapshot(data, store), snap);
    // --force allows it; verify-local agrees with the forced state.
    r = await up("--force", "--json");
    assert.equal(r.code, 0, r.err);
    j = JSON.parse(r.out);
    assert.equal(j.digest, d1);
    assert.equal(j.previousDigest, d2);
    assert.equal((await skopeoInspect(`oci:${store}:${name}`)).Digest, d1);
    assert.equal((await vl()).code, 0);
    // Forward again.
    await lab.retag(repo, d2, "latest");
    assert.equal((await up()).code, 0);

    // A corrupted layer in the registry storage: abort, nothing installed, state unchanged.
    const v5 = await buildImage({ files: { v: "5", pad: "x".repeat(4096) } });
    const d5 = await pushImage(lab.client, repo, v5, "latest");
    await lab.sign(repo, d5);
    await flipByte(lab.blobFile(v5.layers[0].descriptor.digest));
    snap = await snapshot(data, store);
    r = await up();
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /blob .*(hash|digest)/i);
    assert.deepEqual(await snapshot(data, store), snap);
    const layout = await OciLayout.open(store);
    assert.equal(await layout.hasBlob(v5.layers[0].descriptor.digest), false);
    assert.equal((await skopeoInspect(`oci:${store}:${name}`)).Digest, d2);
    assert.equal((await vl()).code, 0);

    // verify-local: tampered stored signatures fail; restored, it passes again.
    const sigFile = join(data, "signatures", lab.key.keyId, `${d2.slice(7)}.json`);
    const original = await Deno.readTextFile(sigFile);
    const list = JSON.parse(original);
    const sig = atob(list[0].Base64Signature);
    const flipped = String.fromCharCode(sig.charCodeAt(0)) +
      String.fromCharCode(sig.charCodeAt(1)) +
      String.fromCharCode(sig.charCodeAt(2) ^ 1) + sig.slice(3);
    list[0].Base64Signature = btoa(flipped);
    await Deno.writeTextFile(sigFile, JSON.stringify(list));
    r = await vl();
    assert.equal(r.code, 1);
    assert.match(r.err, /does not verify/);
    await Deno.writeTextFile(sigFile, original);
    assert.equal((await vl()).code, 0);

    // verify-local: the runtime's image differs (re-tagged locally) → fails.
    const other = await buildImage({ files: { evil: "1" } });
    await layout.writeBlobBytes(other.config);
    await layout.writeBlobBytes(other.layers[0].bytes);
    await layout.writeBlobBytes(other.manifest);
    const index = await layout.index();
    const entry = index.manifests.find((m) => m.annotations?.[REF_NAME] === name)!;
    await layout.setRef(name, other.manifestDescriptor);
    r = await vl();
    assert.equal(r.code, 1);
    assert.match(r.err, /not the verified/);
    // Put the verified image back.
    await layout.setRef(name, entry);
    assert.equal((await vl()).code, 0);

    // A key that signed nothing: verify-local refuses.
    r = await run(verifyLocal, [name, ...common, "--key", lab.otherKeyPath]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no stored signatures/);
  },
});

Deno.test({
  name: "upgrade (oci store): multi-arch index, the signature binds the index",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const data = join(lab.dir, "data");
    const store = join(lab.dir, "store");
    const repo = "dz/multi";
    const common = [
      ...lab.trustArgs,
      "--data-dir",
      data,
      "--runtime",
      `oci:${store}`,
      "--json",
    ];
    const idx = await lab.pushIndex(repo, { v: "1" }, "latest");
    await lab.sign(repo, idx.digest);
    const name = `${lab.reg.host}/${repo}:latest`;

    let r = await run(upgrade, [name, ...common, "--platform", "linux/arm64"]);
    assert.equal(r.code, 0, r.err);
    let j = JSON.parse(r.out);
    assert.equal(j.digest, idx.digest);
    assert.equal(j.platformDigest, idx.arm64.manifestDescriptor.digest);
    assert.equal(j.imageId, idx.arm64.configDescriptor.digest);
    assert.equal(j.platform, "linux/arm64/v8");
    assert.equal((await run(verifyLocal, [name, ...common])).code, 0);

    // The same signed index for another platform is not "up to date".
    if (defaultPlatform().architecture === "amd64") {
      r = await run(upgrade, [name, ...common]);
      assert.equal(r.code, 0, r.err);
      j = JSON.parse(r.out);
      assert.equal(j.status, "upgraded");
      assert.equal(j.platformDigest, idx.amd64Digest);
      assert.equal((await run(verifyLocal, [name, ...common])).code, 0);
      r = await run(upgrade, [name, ...common]);
      assert.equal(JSON.parse(r.out).status, "up-to-date");
    }

    // A platform the index lacks: a usage error (exit 2, as the contract says).
    r = await run(upgrade, [name, ...common, "--platform", "linux/s390x"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /no linux\/s390x image/);

    // Signing a platform manifest does not make the index verify.
    const repo2 = "dz/multi2";
    const idx2 = await lab.pushIndex(repo2, { v: "2" }, "latest");
    await lab.sign(repo2, idx2.amd64Digest);
    r = await run(upgrade, [`${lab.reg.host}/${repo2}`, ...common]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no signatures found/);
  },
});

Deno.test({
  name: "upgrade (podman, vfs via CONTAINERS_STORAGE_CONF): install, up to date, verify-local",
  ignore: !onPath("podman"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const pm = join(lab.dir, "podman");
    await Deno.mkdir(pm);
    const conf = await vfsStorageConf(pm);
    testEnv.CONTAINERS_STORAGE_CONF = conf;
    const podman = async (...args: string[]) => {
      const out = await new Deno.Command("podman", {
        args,
        stdout: "piped",
        stderr: "piped",
        env: { CONTAINERS_STORAGE_CONF: conf },
      }).output();
      return { ok: out.success, text: new TextDecoder().decode(out.stdout).trim() };
    };
    try {
      const data = join(lab.dir, "data");
      const repo = "dz/pod";
      const name = `${lab.reg.host}/${repo}:latest`;
      const common = [
        ...lab.trustArgs,
        "--data-dir",
        data,
        "--runtime",
        "podman",
      ];
      const v1 = await buildImage({ files: { v: "pod-1" } });
      const d1 = await pushImage(lab.client, repo, v1, "latest");
      await lab.sign(repo, d1);
      let r = await run(upgrade, [name, ...common, "--json"]);
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).imageId, v1.configDescriptor.digest);
      const id = await podman("image", "inspect", "--format", "{{.Id}}", name);
      assert.ok(id.ok);
      assert.equal(`sha256:${id.text}`, v1.configDescriptor.digest);
      r = await run(upgrade, [name, ...common]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Already up to date/);
      assert.equal((await run(verifyLocal, [name, ...common])).code, 0);

      // A corrupted blob: nothing reaches podman.
      const v2 = await buildImage({ files: { v: "pod-2", pad: "y".repeat(4096) } });
      const d2 = await pushImage(lab.client, repo, v2, "latest");
      await lab.sign(repo, d2);
      await flipByte(lab.blobFile(v2.layers[0].descriptor.digest));
      r = await run(upgrade, [name, ...common]);
      assert.equal(r.code, 1, r.err);
      const images = await podman("images", "-a", "--format", "{{.Id}}", "--no-trunc");
      assert.ok(!images.text.includes(v2.configDescriptor.digest.slice(7)), images.text);
      assert.equal(
        `sha256:${(await podman("image", "inspect", "--format", "{{.Id}}", name)).text}`,
        v1.configDescriptor.digest,
      );
      assert.equal((await run(verifyLocal, [name, ...common])).code, 0);

      // Re-tag another image under the name in podman: verify-local fails.
      const v3 = await buildImage({ files: { v: "pod-3" } });
      const d3 = await pushImage(lab.client, "dz/other", v3, "latest");
      await lab.sign("dz/other", d3);
      const otherName = `${lab.reg.host}/dz/other:latest`;
      assert.equal((await run(upgrade, [otherName, ...common])).code, 0);
      assert.ok((await podman("tag", otherName, name)).ok);
      r = await run(verifyLocal, [name, ...common]);
      assert.equal(r.code, 1);
      assert.match(r.err, /not the verified/);
      // upgrade notices and reinstalls.
      r = await run(upgrade, [name, ...common]);
      assert.equal(r.code, 1); // latest still points at the corrupted v2
      await lab.retag(repo, d1, "latest");
      r = await run(upgrade, [name, ...common, "--force", "--json"]);
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(r.out).status, "upgraded");
      assert.equal((await run(verifyLocal, [name, ...common])).code, 0);
    } finally {
      testEnv.CONTAINERS_STORAGE_CONF = undefined;
    }
  },
});
