/**
 * `SIGSTORE_REKOR_PUBLIC_KEY=FILE` replaces the trusted root's Rekor keys:
 * Dangerzone's real signatures still verify with the public-good Rekor key
 * pinned this way, and fail with any other key, through the library and
 * through the `verify-signatures` command.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { testdata, testdataOrSkip } from "./helpers/testdata.ts";
import { loadTrustedRoot, REKOR_PUBLIC_KEY_ENV } from "../lib/trust/trusted_root.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { verifySignatureListText } from "../lib/signatures/verify.ts";
import { command as verifySignatures } from "../commands/verify-signatures.ts";
import { TrustMaterialError } from "../lib/errors/errors.ts";

const ignore = testdataOrSkip("SIGSTORE_REKOR_PUBLIC_KEY");
const KEY_ID = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";
const DFA9 = "fa948726aac29a6ac49f01ec8fbbac18522b35b2491fdf716236a0b3502a2ca7";
const SIGS = () => testdata("dangerzone", "signatures", "valid", KEY_ID, `${DFA9}.json`);
const REKOR_PUB = () => testdata("dangerzone", "rekor.pub");

async function otherKeyFile(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dz-rekor-" });
  const { publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const path = join(dir, "other-rekor.pub");
  await Deno.writeTextFile(path, publicKey.export({ format: "pem", type: "spki" }) as string);
  return path;
}

import { envWith } from "./helpers/env.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("SIGSTORE_REKOR_PUBLIC_KEY: one log with that key; real signatures verify", {
  ignore,
}, async () => {
  const root = await loadTrustedRoot(undefined, envOf({ [REKOR_PUBLIC_KEY_ENV]: REKOR_PUB() }));
  const tlogs = root.json.tlogs as { logId: { keyId: string }; publicKey: { validFor: unknown } }[];
  assert.equal(tlogs.length, 1);
  // Rekor's log ID: sha256 of the DER SubjectPublicKeyInfo (the public-good one).
  assert.equal(
    Array.from(atob(tlogs[0].logId.keyId), (c) => c.charCodeAt(0).toString(16).padStart(2, "0"))
      .join(""),
    "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
  );
  // A key the root already lists keeps its validity window.
  assert.deepEqual(tlogs[0].publicKey.validFor, { start: "2021-01-12T11:53:27Z" });
  const key = await loadTrustedKey(testdata("dangerzone", "test.pub.key"));
  const r = verifySignatureListText(await Deno.readTextFile(SIGS()), `sha256:${DFA9}`, {
    trustedRoot: root,
    key,
  });
  assert.equal(r.ok, true, JSON.stringify(r.reports));
  assert.equal(r.reports.length, 3);
});

Deno.test("SIGSTORE_REKOR_PUBLIC_KEY: another key makes the same signatures fail", {
  ignore,
}, async () => {
  const other = await otherKeyFile();
  const root = await loadTrustedRoot(undefined, envOf({ [REKOR_PUBLIC_KEY_ENV]: other }));
  const tlogs = root.json.tlogs as { publicKey: { validFor: unknown } }[];
  assert.equal(tlogs.length, 1);
  assert.deepEqual(tlogs[0].publicKey.validFor, { start: "1970-01-01T00:00:00.000Z" });
  const key = await loadTrustedKey(testdata("dangerzone", "test.pub.key"));
  const r = verifySignatureListText(await Deno.readTextFile(SIGS()), `sha256:${DFA9}`, {
    trustedRoot: root,
    key,
  });
  assert.equal(r.ok, false);
  assert.ok(r.reports.every((x) => !x.ok));
  // Not a key at all: refused, not ignored.
  await assert.rejects(
    loadTrustedRoot(undefined, envOf({ [REKOR_PUBLIC_KEY_ENV]: SIGS() })),
    TrustMaterialError,
  );
  await Deno.remove(other);
});

Deno.test("SIGSTORE_REKOR_PUBLIC_KEY: verify-signatures honours it (exit 0, then 1)", {
  ignore,
}, async () => {
  const other = await otherKeyFile();
  const run = async (rekorKey: string) => {
    const err: string[] = [];
    const code = await verifySignatures.main(
      ["--key", testdata("dangerzone", "test.pub.key"), SIGS(), "--digest", `sha256:${DFA9}`],
      {
        out: () => {},
        err: (t) => err.push(t),
        env: envWith({ [REKOR_PUBLIC_KEY_ENV]: rekorKey }),
      },
    );
    return { code, err: err.join("\n") };
  };
  try {
    const ok = await run(REKOR_PUB());
    assert.equal(ok.code, 0, ok.err);
    assert.equal((await run(other)).code, 1);
  } finally {
    await Deno.remove(other);
  }
});
