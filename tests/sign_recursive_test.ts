/**
 * `sign --recursive` against the real registry and the local Rekor: an
 * index and each of its platform manifests get their own signature and
 * their own log entry (what Dangerzone's release does); a missing child
 * fails before anything is logged or pushed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as sign } from "../commands/sign.ts";
import { RegistrySource } from "../lib/image/source.ts";
import { verifyCosignSignatures } from "../lib/signatures/verify.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { findSignatures, requireWellFormed } from "../lib/image/discovery.ts";
import { envWith } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await sign.main(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: envWith(testEnv),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test({
  name: "sign --recursive: the index and every platform manifest, one log entry each",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    testEnv.COSIGN_PASSWORD = "lab-password";
    try {
      const repo = "dz/multi";
      const idx = await lab.pushIndex(repo, { v: "1" }, "latest");
      const arm64Digest = idx.arm64.manifestDescriptor.digest;
      const common = [
        "--key",
        join(lab.dir, "trusted.key"),
        "--trusted-root",
        lab.rootPath,
        "--rekor-url",
        lab.rekorUrl,
      ];
      const r = await run([
        `${lab.reg.host}/${repo}@${idx.digest}`,
        ...common,
        "--recursive",
        "--json",
      ]);
      assert.equal(r.code, 0, r.err);
      const doc = JSON.parse(r.out);
      assert.equal(doc.ok, true);
      assert.deepEqual(
        doc.signed.map((s: { digest: string }) => s.digest),
        [idx.digest, idx.amd64Digest, arm64Digest],
      );
      const indexes = doc.signed.map((s: { tlog: { logIndex: number }[] }) => s.tlog[0].logIndex);
      assert.equal(new Set(indexes).size, 3, "one log entry per manifest");

      // Each manifest's .sig verifies with the trusted key, for that digest only.
      const source = new RegistrySource(lab.client, repo, {});
      for (const d of [idx.digest, idx.amd64Digest, arm64Digest]) {
        const sigs = requireWellFormed(await findSignatures(source, d)).map((f) => f.signature);
        assert.equal(sigs.length, 1, d);
        const { reports } = verifyCosignSignatures(sigs, d, {
          trustedRoot: lab.trustedRoot,
          key: lab.key,
          requireTlog: true,
        });
        assert.ok(reports[0].ok, `${d}: ${JSON.stringify(reports[0])}`);
        assert.equal(
          reports[0].ok && reports[0].result.dockerReference,
          `${lab.reg.host}/${repo}`,
        );
      }

      // Without --recursive only the top manifest is signed.
      const single = await lab.pushIndex("dz/single", { v: "2" }, "latest");
      const s = await run([`${lab.reg.host}/dz/single@${single.digest}`, ...common]);
      assert.equal(s.code, 0, s.err);
      const singleSource = new RegistrySource(lab.client, "dz/single", {});
      assert.equal(requireWellFormed(await findSignatures(singleSource, single.digest)).length, 1);
      assert.equal(
        requireWellFormed(await findSignatures(singleSource, single.amd64Digest)).length,
        0,
      );

      // A platform manifest altered in the registry's storage: nothing is signed, nothing pushed.
      const bad = await lab.pushIndex("dz/bad", { v: "3" }, "latest");
      const file = lab.blobFile(bad.arm64.manifestDescriptor.digest);
      const bytes = await Deno.readFile(file);
      bytes[bytes.length - 2] ^= 0x01;
      await Deno.writeFile(file, bytes);
      const f = await run([`${lab.reg.host}/dz/bad@${bad.digest}`, ...common, "--recursive"]);
      // (The registry notices the altered blob itself and answers 500: exit 3.)
      assert.notEqual(f.code, 0, f.err);
      const badSource = new RegistrySource(lab.client, "dz/bad", {});
      assert.equal(requireWellFormed(await findSignatures(badSource, bad.digest)).length, 0);
      assert.equal(requireWellFormed(await findSignatures(badSource, bad.amd64Digest)).length, 0);
    } finally {
      testEnv.COSIGN_PASSWORD = undefined;
    }
  },
});
