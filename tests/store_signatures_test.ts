/**
 * `store-signatures` against the real registry and the loopback Rekor:
 * the verified signatures of the tag's current digest land in Dangerzone's
 * layout; nothing is installed, the rollback state is untouched; unsigned
 * or wrongly signed images write nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as storeSignatures } from "../commands/store-signatures.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { snapshot } from "./helpers/files.ts";
import { readSignatures } from "../lib/store/signature_store.ts";

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await storeSignatures.main(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test({
  name: "store-signatures: verified signatures stored, nothing installed, state untouched",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const data = join(lab.dir, "data");
    await Deno.mkdir(join(data, "signatures"), { recursive: true });
    // Dangerzone's rollback state, as it left it: must not move.
    await Deno.writeTextFile(join(data, "signatures", "last_log_index"), "7\n");
    const common = [...lab.trustArgs, "--data-dir", data];
    const repo = "dz/app";
    const d1 = await lab.push(repo, { v: "1" }, "latest");
    await lab.sign(repo, d1);
    await lab.sign(repo, d1, lab.signer, { n: "2" });

    const r = await run([`${lab.reg.host}/${repo}`, ...common, "--json"]);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.equal(doc.digest, d1);
    assert.equal(doc.signatures, 2);
    const stored = await readSignatures(data, lab.key.keyId, d1);
    assert.equal(stored?.length, 2);
    assert.equal(
      await Deno.readTextFile(join(data, "signatures", "last_log_index")),
      "7\n",
      "last_log_index untouched",
    );
    const files = [...(await snapshot(data)).keys()].sort();
    assert.deepEqual(
      files,
      [
        join(data, "signatures", lab.key.keyId, `${d1.slice(7)}.json`),
        join(data, "signatures", "last_log_index"),
      ].sort(),
    );

    // Unsigned, then signed by another key: nothing written.
    const before = await snapshot(data);
    const d2 = await lab.push(repo, { v: "2" }, "latest");
    assert.equal((await run([`${lab.reg.host}/${repo}`, ...common])).code, 1);
    await lab.sign(repo, d2, lab.otherSigner);
    const wrong = await run([`${lab.reg.host}/${repo}:latest`, ...common]);
    assert.equal(wrong.code, 1, wrong.err);
    assert.deepEqual(await snapshot(data), before);

    // By digest works too.
    const byDigest = await run([`${lab.reg.host}/${repo}@${d1}`, ...common]);
    assert.equal(byDigest.code, 0, byDigest.err);
    assert.match(byDigest.out, /Stored 2 verified signature/);
  },
});
