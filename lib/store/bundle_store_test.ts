import assert from "node:assert/strict";
import { SignatureFormatError } from "../errors/errors.ts";
import {
  bundlePath,
  listStoredDigests,
  readBundles,
  readSignatures,
  writeBundles,
} from "./signature_store.ts";

const KEY_ID = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";
const DIGEST = `sha256:${"ab".repeat(32)}`;

Deno.test("bundle store: beside the cosign list, either may be absent, malformed refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readBundles(dir, KEY_ID, DIGEST), undefined);
    const bundles = [{ mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json", n: 1 }];
    const path = await writeBundles(dir, KEY_ID, DIGEST, bundles);
    assert.equal(path, `${dir}/signatures/${KEY_ID}/${"ab".repeat(32)}.bundles.json`);
    assert.equal(path, bundlePath(dir, KEY_ID, DIGEST));
    assert.deepEqual(await readBundles(dir, KEY_ID, DIGEST), bundles);
    // Only bundles stored: the cosign list reads as absent; the digest is listed once.
    assert.equal(await readSignatures(dir, KEY_ID, DIGEST), undefined);
    assert.deepEqual(await listStoredDigests(dir, KEY_ID), [DIGEST]);
    // Not a list: refused, never read as empty.
    await Deno.writeTextFile(path, JSON.stringify({ not: "a list" }));
    await assert.rejects(readBundles(dir, KEY_ID, DIGEST), SignatureFormatError);
    await Deno.writeTextFile(path, "{");
    await assert.rejects(readBundles(dir, KEY_ID, DIGEST), SignatureFormatError);
    assert.throws(() => bundlePath(dir, KEY_ID, "sha256:xyz"), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
