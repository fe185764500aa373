import assert from "node:assert/strict";
import { testdata, testdataOrSkip } from "../tests/helpers/testdata.ts";
import { command } from "./verify-signatures.ts";

const KEY_ID = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";
const ignore = testdataOrSkip("verify-signatures command");
const KEY = testdata("dangerzone", "test.pub.key");
const file = (kind: string, hex: string) =>
  testdata("dangerzone", "signatures", kind, KEY_ID, `${hex}.json`);
const D220 = "220b52200e3e47b1b42010667fcaa9338681e64dd3e34a34873866cb051d694e";
const DFA9 = "fa948726aac29a6ac49f01ec8fbbac18522b35b2491fdf716236a0b3502a2ca7";

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await command.main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

Deno.test("verify-signatures: valid list exits 0", { ignore }, async () => {
  const r = await run(["--key", KEY, file("valid", DFA9), "--digest", `sha256:${DFA9}`]);
  assert.equal(r.code, 0, r.err.join("\n"));
  assert.equal(r.err.length, 0);
  assert.match(r.out.at(-1)!, /all 3 signature\(s\) verified/);
});

Deno.test("verify-signatures: --json prints per-signature results", { ignore }, async () => {
  const r = await run(["--json", "--key", KEY, file("valid", DFA9), "--digest", `sha256:${DFA9}`]);
  assert.equal(r.code, 0);
  const doc = JSON.parse(r.out.join("\n"));
  assert.equal(doc.ok, true);
  assert.equal(doc.key.keyId, KEY_ID);
  assert.equal(doc.signatures, 3);
  assert.deepEqual(doc.results.map((s: { logIndex: number }) => s.logIndex), [
    164177381,
    164445483,
    164484602,
  ]);
  assert.equal(
    doc.results[0].logID,
    "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
  );
  assert.equal(doc.results[0].integratedTime, 1737478056);
  assert.equal(doc.results[0].signer.type, "key");
});

Deno.test(
  "verify-signatures: one stderr line per failing signature, exit 1",
  { ignore },
  async () => {
    const dir = await Deno.makeTempDir();
    const good = JSON.parse(await Deno.readTextFile(file("valid", D220)));
    const bad = JSON.parse(await Deno.readTextFile(file("tampered", D220)));
    const invalid = JSON.parse(await Deno.readTextFile(file("invalid", D220)));
    await Deno.writeTextFile(`${dir}/mixed.json`, JSON.stringify([...good, ...bad, ...invalid]));
    const r = await run([
      "--json",
      "--key",
      KEY,
      `${dir}/mixed.json`,
      "--digest",
      `sha256:${D220}`,
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.err.length, 2);
    assert.match(r.err[0], /signature 2: .*Rekor signed entry timestamp/);
    assert.match(r.err[1], /signature 3: .*Payload is not valid base64/);
    const doc = JSON.parse(r.out.join("\n"));
    assert.deepEqual(doc.results.map((s: { ok: boolean }) => s.ok), [true, false, false]);
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test("verify-signatures: wrong digest, wrong key, default key, empty list → exit 1", {
  ignore,
}, async () => {
  assert.equal(
    (await run(["--key", KEY, file("valid", D220), "--digest", `sha256:${DFA9}`])).code,
    1,
  );
  const other = testdata("dangerzone", "dangerzone-testing.pub");
  assert.equal(
    (await run(["--key", other, file("valid", D220), "--digest", `sha256:${D220}`])).code,
    1,
  );
  assert.equal((await run([file("valid", D220), "--digest", `sha256:${D220}`])).code, 1);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/empty.json`, "[]");
  const r = await run(["--key", KEY, `${dir}/empty.json`, "--digest", `sha256:${D220}`]);
  assert.equal(r.code, 1);
  assert.match(r.err.join("\n"), /holds no signatures/);
  await Deno.writeTextFile(`${dir}/obj.json`, "{}");
  assert.equal(
    (await run(["--key", KEY, `${dir}/obj.json`, "--digest", `sha256:${D220}`])).code,
    1,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("verify-signatures: usage errors exit 2, missing file exits 3", { ignore }, async () => {
  const r = await run(["--key", KEY, file("valid", D220)]);
  assert.equal(r.code, 2);
  assert.match(r.err[0], /missing --digest/);
  assert.equal((await run(["--key", KEY, file("valid", D220), "--digest", "sha256:ABC"])).code, 2);
  assert.equal((await run(["--digest", `sha256:${D220}`])).code, 2);
  assert.equal(
    (await run(["--key", KEY, "/nonexistent/x.json", "--digest", `sha256:${D220}`])).code,
    3,
  );
});

Deno.test(
  "verify-signatures: a trusted root without tlog validFor.start is refused",
  { ignore },
  async () => {
    const dir = await Deno.makeTempDir();
    const root = JSON.parse(
      await Deno.readTextFile(
        new URL("../lib/trust/public_good_trusted_root.json", import.meta.url),
      ),
    );
    delete root.tlogs[0].publicKey.validFor;
    await Deno.writeTextFile(`${dir}/root.json`, JSON.stringify(root));
    const r = await run([
      "--key",
      KEY,
      "--trusted-root",
      `${dir}/root.json`,
      file("valid", D220),
      "--digest",
      `sha256:${D220}`,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.err[0], /validFor\.start/);
    await Deno.remove(dir, { recursive: true });
  },
);

Deno.test(
  "verify-signatures: the JSON lines `cosign download signature` prints (one object per line)",
  { ignore },
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const list = JSON.parse(await Deno.readTextFile(file("valid", DFA9)));
      assert.equal(list.length, 3);
      // As cosign prints them: one compact object per line, a final newline.
      const lines = list.map((s: unknown) => JSON.stringify(s)).join("\n") + "\n";
      await Deno.writeTextFile(`${dir}/sigs.jsonl`, lines);
      let r = await run(["--key", KEY, `${dir}/sigs.jsonl`, "--digest", `sha256:${DFA9}`]);
      assert.equal(r.code, 0, r.err.join("\n"));
      assert.match(r.out.at(-1)!, /all 3 signature\(s\) verified/);
      // CRLF line ends and blank lines are tolerated.
      await Deno.writeTextFile(`${dir}/crlf.jsonl`, "\r\n" + lines.replaceAll("\n", "\r\n\r\n"));
      r = await run(["--key", KEY, `${dir}/crlf.jsonl`, "--digest", `sha256:${DFA9}`]);
      assert.equal(r.code, 0, r.err.join("\n"));
      // A single signature is a single line: one JSON object.
      await Deno.writeTextFile(`${dir}/one.jsonl`, JSON.stringify(list[0]) + "\n");
      r = await run(["--key", KEY, `${dir}/one.jsonl`, "--digest", `sha256:${DFA9}`]);
      assert.equal(r.code, 0, r.err.join("\n"));
      assert.match(r.out.at(-1)!, /all 1 signature\(s\) verified/);
      // A tampered line fails alone, reported by its number; a line that is not JSON too.
      const tampered = JSON.parse(await Deno.readTextFile(file("tampered", D220)));
      const good = JSON.parse(await Deno.readTextFile(file("valid", D220)));
      await Deno.writeTextFile(
        `${dir}/mixed.jsonl`,
        [JSON.stringify(good[0]), JSON.stringify(tampered[0]), "{not json"].join("\n"),
      );
      r = await run(["--key", KEY, `${dir}/mixed.jsonl`, "--digest", `sha256:${D220}`]);
      assert.equal(r.code, 1);
      assert.equal(r.err.length, 2, r.err.join("\n"));
      assert.match(r.err[0], /signature 2: /);
      assert.match(r.err[1], /signature 3: .*line 3 is not JSON/);
      // Deeply nested lines are refused as malformed, not a crash.
      await Deno.writeTextFile(`${dir}/deep.jsonl`, "[".repeat(100_000) + "]".repeat(100_000));
      r = await run(["--key", KEY, `${dir}/deep.jsonl`, "--digest", `sha256:${D220}`]);
      assert.equal(r.code, 1);
      assert.equal(r.err.length, 1);
      assert.match(r.err[0], /nests/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
