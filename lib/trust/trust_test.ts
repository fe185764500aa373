import assert from "node:assert/strict";
import crypto from "node:crypto";
import { createRequire } from "node:module";
import { TrustMaterialError, UsageError } from "../errors/errors.ts";
import { testdata, testdataOrSkip } from "../../tests/helpers/testdata.ts";
import { trustedRootFromSeeds } from "../../scripts/refresh_trusted_root.ts";
import { defaultTrustedKey, loadTrustedKey, parseTrustedKey } from "./trusted_key.ts";
import {
  loadTrustedRoot,
  parseTrustedRoot,
  PUBLIC_GOOD_SOURCE,
  publicGoodTrustedRoot,
} from "./trusted_root.ts";
import publicGood from "./public_good_trusted_root.json" with { type: "json" };
import { exitStatusOf } from "../cli/exit_codes.ts";

const enc = new TextEncoder();

Deno.test("embedded public-good root loads and equals @sigstore/tuf's seed", async () => {
  const root = publicGoodTrustedRoot();
  assert.equal(root.source, PUBLIC_GOOD_SOURCE);
  assert.ok(root.root.tlogs.length >= 1);
  assert.ok(root.root.certificateAuthorities.length >= 1);
  const require = createRequire(import.meta.url);
  const seeds = JSON.parse(await Deno.readTextFile(require.resolve("@sigstore/tuf/seeds.json")));
  assert.deepEqual(trustedRootFromSeeds(seeds), publicGood);
});

Deno.test("trusted root: a tlog without validFor.start is refused", () => {
  const json = structuredClone(publicGood) as { tlogs: { publicKey: { validFor?: object } }[] };
  delete json.tlogs[0].publicKey.validFor;
  assert.throws(() => parseTrustedRoot(json, "t.json"), (e: unknown) => {
    assert.ok(e instanceof TrustMaterialError);
    assert.match(e.message, /tlogs\[0\] has no publicKey\.validFor\.start/);
    return true;
  });
  const json2 = structuredClone(publicGood) as { tlogs: { publicKey: { validFor: object } }[] };
  json2.tlogs[1].publicKey.validFor = { end: "2030-01-01T00:00:00Z" };
  assert.throws(
    () => parseTrustedRoot(json2, "t.json"),
    /tlogs\[1\] has no publicKey\.validFor\.start/,
  );
});

Deno.test("trusted root: malformed documents are refused", async () => {
  assert.throws(() => parseTrustedRoot([], "x"), TrustMaterialError);
  assert.throws(() => parseTrustedRoot({ mediaType: "text/plain" }, "x"), /mediaType/);
  const bad = structuredClone(publicGood) as { tlogs: { publicKey: { validFor: object } }[] };
  bad.tlogs[0].publicKey.validFor = { start: "yesterday-ish" };
  assert.throws(() => parseTrustedRoot(bad, "x"), /not a date/);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/r.json`, "{not json");
  await assert.rejects(loadTrustedRoot(`${dir}/r.json`), TrustMaterialError);
  await Deno.writeTextFile(`${dir}/ok.json`, JSON.stringify(publicGood));
  assert.equal((await loadTrustedRoot(`${dir}/ok.json`)).source, `${dir}/ok.json`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("default key is Dangerzone's published key, key id = sha256 of the file", {
  ignore: testdataOrSkip("default key"),
}, async () => {
  const k = defaultTrustedKey();
  const file = await Deno.readFile(testdata("dangerzone", "freedomofpress-dangerzone.pub"));
  assert.deepEqual(k.bytes, file);
  assert.equal(k.keyId, "f8d4fdda2a40d010a1d7d4024e78cecc14d9ab48c89301a901df960a0c47a074");
  assert.equal(k.keyType, "ec");
  const t = await loadTrustedKey(testdata("dangerzone", "test.pub.key"));
  assert.equal(t.keyId, "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95");
});

Deno.test("trusted key: private keys and garbage are refused", () => {
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const priv = privateKey.export({ format: "pem", type: "pkcs8" }) as string;
  // A private key where the public one is expected is a usage mistake (exit 2).
  assert.throws(
    () => parseTrustedKey(enc.encode(priv), "k"),
    (e: unknown) =>
      e instanceof UsageError && exitStatusOf(e) === 2 && /private key/.test(e.message),
  );
  assert.throws(() => parseTrustedKey(enc.encode("hello"), "k"), /not a PEM public key/);
  const broken = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
  assert.throws(() => parseTrustedKey(enc.encode(broken), "k"), /cannot parse/);
});

Deno.test("a --trusted-root file that does not exist is a usage error (exit 2)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(loadTrustedRoot(`${dir}/nope.json`, () => undefined), (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      assert.equal(exitStatusOf(e), 2);
      assert.match(e.message, /trusted root .*nope\.json does not exist/);
      assert.match(e.hint ?? "", /--trusted-root/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
