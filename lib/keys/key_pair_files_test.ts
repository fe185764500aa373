import assert from "node:assert/strict";
import { IoError } from "../errors/errors.ts";
import { assertKeyPairAbsent, keyPairPaths, writeKeyPairFiles } from "./key_pair_files.ts";

const pair = { privateKeyPem: "PRIVATE\n", publicKeyPem: "PUBLIC\n" };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("writes NAME.key (0600) and NAME.pub, leaving no temporary files", async () => {
  await withDir(async (dir) => {
    const paths = keyPairPaths(`${dir}/release`);
    assert.deepEqual(paths, { privateKey: `${dir}/release.key`, publicKey: `${dir}/release.pub` });
    await assertKeyPairAbsent(paths);
    await writeKeyPairFiles(paths, pair);
    assert.equal(await Deno.readTextFile(paths.privateKey), pair.privateKeyPem);
    assert.equal(await Deno.readTextFile(paths.publicKey), pair.publicKeyPem);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(paths.privateKey)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(paths.publicKey)).mode! & 0o777, 0o644);
    }
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["release.key", "release.pub"]);
  });
});

Deno.test("never overwrites: an existing .pub leaves it untouched and no .key behind", async () => {
  await withDir(async (dir) => {
    const paths = keyPairPaths(`${dir}/k`);
    await Deno.writeTextFile(paths.publicKey, "old public key\n");
    await assert.rejects(assertKeyPairAbsent(paths), IoError);
    // Even past the early check (a file appearing meanwhile), writing refuses.
    await assert.rejects(
      writeKeyPairFiles(paths, pair),
      (e) => e instanceof IoError && /already exists/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(paths.publicKey), "old public key\n");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["k.pub"]);
  });
});

Deno.test("never overwrites an existing .key", async () => {
  await withDir(async (dir) => {
    const paths = keyPairPaths(`${dir}/k`);
    await Deno.writeTextFile(paths.privateKey, "precious\n");
    await assert.rejects(writeKeyPairFiles(paths, pair), IoError);
    assert.equal(await Deno.readTextFile(paths.privateKey), "precious\n");
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, ["k.key"]);
  });
});

Deno.test("a missing output directory is reported before anything else", async () => {
  await withDir(async (dir) => {
    await assert.rejects(assertKeyPairAbsent(keyPairPaths(`${dir}/nope/k`)), /does not exist/);
  });
});
