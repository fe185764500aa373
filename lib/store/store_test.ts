import assert from "node:assert/strict";
import { IoError } from "../errors/errors.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import {
  listStoredDigests,
  readSignatures,
  signaturePath,
  writeSignatures,
} from "./signature_store.ts";
import { parseCosignSignatureList } from "../signatures/cosign_list.ts";
import { verifyCosignSignatures } from "../signatures/verify.ts";
import { loadTrustedKey } from "../trust/trusted_key.ts";
import { publicGoodTrustedRoot } from "../trust/trusted_root.ts";

const KEY_ID = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";

Deno.test("writeFileAtomic replaces content and leaves no temp files", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sub/f.json`;
  await writeFileAtomic(path, "one");
  await writeFileAtomic(path, "two");
  assert.equal(await Deno.readTextFile(path), "two");
  const names = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name);
  assert.deepEqual(names, ["f.json"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeFileAtomic reports an unwritable target as IoError and cleans up", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/target`); // a directory cannot be replaced by a file
  await assert.rejects(writeFileAtomic(`${dir}/target`, "x"), IoError);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["target"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("signature store: Dangerzone layout, round trip, still verifies", {
  ignore: testdataOrSkip("signature store"),
}, async () => {
  const dataDir = await Deno.makeTempDir();
  const src = testdata("dangerzone", "signatures", "valid", KEY_ID);
  const name = [...Deno.readDirSync(src)].map((e) => e.name).sort()[0];
  const digest = `sha256:${name.slice(0, 64)}`;
  const sigs = parseCosignSignatureList(await Deno.readTextFile(`${src}/${name}`));
  const path = await writeSignatures(dataDir, KEY_ID, digest, sigs);
  assert.equal(path, `${dataDir}/signatures/${KEY_ID}/${name}`);
  assert.equal(signaturePath(dataDir, KEY_ID, digest), path);
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(path)),
    JSON.parse(await Deno.readTextFile(`${src}/${name}`)),
  );
  const back = await readSignatures(dataDir, KEY_ID, digest);
  const key = await loadTrustedKey(testdata("dangerzone", "test.pub.key"));
  assert.ok(
    verifyCosignSignatures(back!, digest, { trustedRoot: publicGoodTrustedRoot(), key }).ok,
  );
  assert.equal(await readSignatures(dataDir, KEY_ID, `sha256:${"0".repeat(64)}`), undefined);
  assert.deepEqual(await listStoredDigests(dataDir, KEY_ID), [digest]);
  assert.throws(() => signaturePath(dataDir, "../x", digest), TypeError);
  assert.throws(() => signaturePath(dataDir, KEY_ID, "sha256:../../etc"), TypeError);
  await Deno.remove(dataDir, { recursive: true });
});
