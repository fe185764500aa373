/**
 * Drop-in for Dangerzone, both directions, with real podman (vfs storage)
 * and a real registry + loopback Rekor:
 *
 * - an image Dangerzone installed (`podman pull IMAGE@INDEX_DIGEST`, its
 *   signatures stored as `signatures/<key id>/<digest hex>.json`, no record
 *   of ours) passes our `verify-local`, the way Dangerzone's
 *   `verify_local_image` checks it; with signatures of another digest, or of
 *   another repository, it fails;
 * - after our `upgrade --runtime podman` of a multi-arch image, Dangerzone's
 *   check passes: `podman images IMAGE --format {{.Digest}}` names a digest
 *   whose signature file is stored and verifies.
 */
import { vfsStorageConf } from "./helpers/podman_storage.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSigningLab } from "./helpers/signed_images.ts";
import { onPath } from "../lib/runtime/exec.ts";
import { CliRuntime } from "../lib/runtime/cli_runtime.ts";
import { RegistrySource } from "../lib/image/source.ts";
import { readSignatures, signaturePath, writeSignatures } from "../lib/store/signature_store.ts";
import { verifyLocalImage } from "../lib/update/verify_local.ts";
import { upgradeFromRegistry } from "../lib/update/upgrade.ts";
import { verifyCosignSignatures } from "../lib/signatures/verify.ts";
import { VerificationError } from "../lib/errors/errors.ts";
import { findSignatures, requireWellFormed } from "../lib/image/discovery.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function podmanEnv(dir: string): Promise<Record<string, string>> {
  await Deno.mkdir(dir, { recursive: true });
  const conf = await vfsStorageConf(dir);
  return { CONTAINERS_STORAGE_CONF: conf };
}

async function podman(env: Record<string, string>, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("podman", { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`podman ${args.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout).trim();
}

Deno.test({
  ...opts,
  name: "Dangerzone interop: verify-local of an image Dangerzone installed (no record of ours)",
  ignore: !onPath("podman"),
  async fn() {
    await using lab = await startSigningLab();
    const env = await podmanEnv(join(lab.dir, "podman"));
    const runtime = new CliRuntime("podman", { env });
    const data = join(lab.dir, "data");
    const repo = "dz/multi";
    const name = `${lab.reg.host}/${repo}:latest`;
    const { digest } = await lab.pushIndex(repo, { v: "dz" }, "latest");
    await lab.sign(repo, digest);
    // What Dangerzone does: pull by the signed digest, tag, store the signatures.
    await podman(env, "pull", "--tls-verify=false", `${lab.reg.host}/${repo}@${digest}`);
    await podman(env, "tag", `${lab.reg.host}/${repo}@${digest}`, name);
    assert.equal(await podman(env, "images", name, "--format", "{{.Digest}}"), digest);
    const source = new RegistrySource(lab.client, repo, { digest });
    await writeSignatures(
      data,
      lab.key.keyId,
      digest,
      requireWellFormed(await findSignatures(source, digest)).map((f) => f.signature),
    );

    const req = {
      imageName: name,
      key: lab.key,
      trustedRoot: lab.trustedRoot,
      dataDir: data,
      runtime,
    };
    const r = await verifyLocalImage(req);
    assert.equal(r.signedDigest, digest);
    assert.equal(r.signatures, 1);

    // Signatures of another digest under this digest's name: refused.
    const other = await lab.push(repo, { v: "other" });
    await lab.sign(repo, other);
    const sigFile = signaturePath(data, lab.key.keyId, digest);
    const good = await Deno.readTextFile(sigFile);
    await writeSignatures(
      data,
      lab.key.keyId,
      digest,
      requireWellFormed(await findSignatures(source, other)).map((f) => f.signature),
    );
    await assert.rejects(verifyLocalImage(req), VerificationError);
    await Deno.writeTextFile(sigFile, good);
    await verifyLocalImage(req);

    // The same image under another repository's name: its signatures do not vouch for it.
    const alias = `${lab.reg.host}/evil/name:latest`;
    await podman(env, "tag", name, alias);
    await assert.rejects(
      verifyLocalImage({ ...req, imageName: alias }),
      (e: unknown) => e instanceof VerificationError && e.code === "IDENTITY_MISMATCH",
    );
  },
});

Deno.test({
  ...opts,
  name: "Dangerzone interop: after our upgrade into podman, Dangerzone's verify_local_image passes",
  ignore: !onPath("podman"),
  async fn() {
    await using lab = await startSigningLab();
    const env = await podmanEnv(join(lab.dir, "podman"));
    const runtime = new CliRuntime("podman", { env });
    const data = join(lab.dir, "data");
    const repo = "dz/multi";
    const name = `${lab.reg.host}/${repo}:latest`;
    const { digest } = await lab.pushIndex(repo, { v: "ours" }, "latest");
    await lab.sign(repo, digest);
    const r = await upgradeFromRegistry({
      client: lab.client,
      repository: repo,
      tag: "latest",
      key: lab.key,
      trustedRoot: lab.trustedRoot,
      dataDir: data,
      runtime,
    });
    assert.equal(r.status, "upgraded");
    // Dangerzone: podman's digest → signatures/<sha256 of the key file>/<digest>.json → verify.
    const reported = await podman(env, "images", name, "--format", "{{.Digest}}");
    assert.equal(reported, digest);
    const stored = await readSignatures(data, lab.key.keyId, reported);
    assert.ok(stored && stored.length > 0, "signatures stored under the digest podman reports");
    assert.ok(
      verifyCosignSignatures(stored!, reported, { trustedRoot: lab.trustedRoot, key: lab.key }).ok,
    );
    assert.equal(
      Number(await Deno.readTextFile(join(data, "signatures", "last_log_index"))),
      Math.max(...r.tlog.map((t) => t.logIndex)),
    );
  },
});
