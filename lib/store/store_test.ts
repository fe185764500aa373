import assert from "node:assert/strict";
import { IoError, RollbackError } from "../cli/errors.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import {
  listStoredDigests,
  readSignatures,
  signaturePath,
  writeSignatures,
} from "./signature_store.ts";
import {
  advanceRollbackState,
  assertNotRollback,
  readRollbackState,
  rollbackStatePath,
} from "./rollback_state.ts";
import { parseCosignSignatureList } from "../signatures/cosign_list.ts";
import { verifyCosignSignatures } from "../signatures/verify.ts";
import { loadTrustedKey } from "../trust/trusted_key.ts";
import { publicGoodTrustedRoot } from "../trust/trusted_root.ts";

const KEY_ID = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";
const LOG = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d";
const OTHER_LOG = "ab".repeat(32);

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

Deno.test("rollback state only moves forward unless forced", async () => {
  const dataDir = await Deno.makeTempDir();
  assert.deepEqual(await readRollbackState(dataDir, KEY_ID), { version: 1, logs: {} });
  await advanceRollbackState(dataDir, KEY_ID, [
    { logID: LOG, logIndex: 100, integratedTime: 1000 },
    { logID: LOG, logIndex: 90, integratedTime: 900 },
  ], { digest: `sha256:${"1".repeat(64)}` });
  let s = await readRollbackState(dataDir, KEY_ID);
  assert.equal(s.logs[LOG].logIndex, 100);
  // Same position again (reinstall) is fine; forward is fine.
  await advanceRollbackState(dataDir, KEY_ID, [{
    logID: LOG,
    logIndex: 100,
    integratedTime: 1000,
  }]);
  await advanceRollbackState(dataDir, KEY_ID, [{
    logID: LOG,
    logIndex: 150,
    integratedTime: 1500,
  }]);
  // Backwards is refused and the file is untouched.
  const before = await Deno.readTextFile(rollbackStatePath(dataDir, KEY_ID));
  await assert.rejects(
    advanceRollbackState(dataDir, KEY_ID, [{ logID: LOG, logIndex: 120, integratedTime: 1200 }]),
    RollbackError,
  );
  assert.equal(await Deno.readTextFile(rollbackStatePath(dataDir, KEY_ID)), before);
  s = await readRollbackState(dataDir, KEY_ID);
  assert.throws(
    () => assertNotRollback(s, [{ logID: LOG, logIndex: 149, integratedTime: 1500 }]),
    RollbackError,
  );
  assert.throws(
    () => assertNotRollback(s, [{ logID: LOG, logIndex: 151, integratedTime: 1400 }]),
    RollbackError,
  );
  // Another log is tracked separately (first sight is accepted).
  assertNotRollback(s, [{ logID: OTHER_LOG, logIndex: 1, integratedTime: 1 }]);
  // Forced: goes back.
  s = await advanceRollbackState(dataDir, KEY_ID, [{
    logID: LOG,
    logIndex: 120,
    integratedTime: 1200,
  }], {
    force: true,
  });
  assert.equal(s.logs[LOG].logIndex, 120);
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("a corrupt rollback state is an error, never an empty state", async () => {
  const dataDir = await Deno.makeTempDir();
  await writeFileAtomic(rollbackStatePath(dataDir, KEY_ID), "{garbage");
  await assert.rejects(readRollbackState(dataDir, KEY_ID), IoError);
  await writeFileAtomic(
    rollbackStatePath(dataDir, KEY_ID),
    JSON.stringify({ version: 1, logs: { [LOG]: { logIndex: -1, integratedTime: 0 } } }),
  );
  await assert.rejects(readRollbackState(dataDir, KEY_ID), IoError);
  await assert.rejects(
    advanceRollbackState(dataDir, KEY_ID, [{ logID: LOG, logIndex: 1, integratedTime: 1 }]),
    IoError,
  );
  await Deno.remove(dataDir, { recursive: true });
});
