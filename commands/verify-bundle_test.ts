import assert from "node:assert/strict";
import crypto from "node:crypto";
import { join } from "node:path";
import { command } from "./verify-bundle.ts";
import {
  fulcioLeaf,
  ISSUER,
  keyPair,
  messageBundle,
  rekorV2HashedRekordOverDsse,
  startFixture,
  statementFor,
  SUBJECT,
} from "../tests/helpers/bundle_fixtures.ts";
import { looksLikeDigest, resolveArtifact } from "../lib/bundle/artifact.ts";

const enc = new TextEncoder();
const hexOf = (b: Uint8Array) => crypto.createHash("sha256").update(b).digest("hex");

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await command.main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("verify-bundle: usage errors exit 2", async () => {
  const base = ["--bundle", "b.json", "a.txt"];
  for (
    const args of [
      ["a.txt"], // no --bundle
      base, // neither key nor identity
      ["--certificate-identity", SUBJECT, ...base], // no issuer
      ["--certificate-oidc-issuer", ISSUER, ...base], // no identity
      [
        "--key",
        "k.pub",
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        ISSUER,
        ...base,
      ],
      ["--staging", "--key", "k.pub", ...base], // no embedded staging root
      ["--bundle", "b.json", "--key", "k.pub"], // no artifact
    ]
  ) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
  }
});

Deno.test("verify-bundle: conformance-protocol invocations, key and keyless", async () => {
  await using fx = await startFixture();
  const kp = keyPair();
  const blob = enc.encode("a.txt contents\n");
  const artifact = join(fx.dir, "a.txt");
  await Deno.writeFile(artifact, blob);
  const keyPath = join(fx.dir, "key.pub");
  await Deno.writeTextFile(keyPath, kp.pem);
  const keyed = join(fx.dir, "keyed.sigstore.json");
  await Deno.writeTextFile(keyed, JSON.stringify(await messageBundle(fx.ss, blob, kp)));
  const keyless = join(fx.dir, "keyless.sigstore.json");
  const cert = await fulcioLeaf(fx.ss, kp);
  await Deno.writeTextFile(keyless, JSON.stringify(await messageBundle(fx.ss, blob, kp, cert)));
  const root = ["--trusted-root", fx.rootPath];

  let r = await run(["--bundle", keyed, "--key", keyPath, ...root, artifact]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Verified OK: /);
  r = await run(["--bundle", keyed, "--key", keyPath, ...root, `sha256:${hexOf(blob)}`]);
  assert.equal(r.code, 0, r.err);
  r = await run(["--json", "--bundle", keyed, "--key", keyPath, ...root, artifact]);
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.equal(doc.ok, true);
  assert.equal(doc.tlog[0].kind, "hashedrekord");

  const id = ["--certificate-identity", SUBJECT, "--certificate-oidc-issuer", ISSUER];
  r = await run(["--bundle", keyless, ...id, ...root, artifact]);
  assert.equal(r.code, 0, r.err);
  assert.ok(r.out.includes(SUBJECT));

  // refusals: exit 1
  const changed = join(fx.dir, "changed.txt");
  const c = new Uint8Array(blob);
  c[0] ^= 1;
  await Deno.writeFile(changed, c);
  for (
    const args of [
      ["--bundle", keyed, "--key", keyPath, ...root, changed],
      ["--bundle", keyed, "--key", keyPath, ...root, `sha256:${hexOf(c)}`],
      ["--bundle", keyless, ...id, ...root, changed],
      [
        "--bundle",
        keyless,
        "--certificate-identity",
        SUBJECT.slice(0, 30),
        "--certificate-oidc-issuer",
        ISSUER,
        ...root,
        artifact,
      ],
      [
        "--bundle",
        keyless,
        "--certificate-identity",
        SUBJECT,
        "--certificate-oidc-issuer",
        "https://issuer.example",
        ...root,
        artifact,
      ],
      ["--bundle", keyless, "--key", keyPath, ...root, artifact], // key given, keyless bundle
      ["--bundle", keyed, ...id, ...root, artifact], // identity given, keyed bundle
      ["--bundle", keyless, ...id, artifact], // the public-good root does not trust the stand-in
    ]
  ) {
    r = await run(args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.out} ${r.err}`);
    assert.match(r.err, /^dangerzone-image verify-bundle: /);
  }

  // a bundle that is not a bundle
  const junk = join(fx.dir, "junk.json");
  await Deno.writeTextFile(junk, JSON.stringify({ mediaType: "nope" }));
  r = await run(["--bundle", junk, "--key", keyPath, ...root, artifact]);
  assert.equal(r.code, 1, r.err);
});

Deno.test("verify-bundle: a trusted root whose log has no validFor.start is refused", async () => {
  await using fx = await startFixture();
  const kp = keyPair();
  const blob = enc.encode("x");
  const artifact = join(fx.dir, "x");
  await Deno.writeFile(artifact, blob);
  const keyPath = join(fx.dir, "key.pub");
  await Deno.writeTextFile(keyPath, kp.pem);
  const bundle = join(fx.dir, "b.json");
  await Deno.writeTextFile(bundle, JSON.stringify(await messageBundle(fx.ss, blob, kp)));
  const ok = await run([
    "--bundle",
    bundle,
    "--key",
    keyPath,
    "--trusted-root",
    fx.rootPath,
    artifact,
  ]);
  assert.equal(ok.code, 0, ok.err);

  const root = structuredClone(fx.ss.trustedRoot);
  delete (root.tlogs[0].publicKey.validFor as { start?: string }).start;
  const rootPath = join(fx.dir, "no_start.json");
  await Deno.writeTextFile(rootPath, JSON.stringify(root));
  const r = await run(["--bundle", bundle, "--key", keyPath, "--trusted-root", rootPath, artifact]);
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /validFor\.start/);
});

Deno.test("verify-bundle: Rekor v2 hashedrekord-over-DSSE bundle via the CLI", async () => {
  const dir = await Deno.makeTempDir({ prefix: "verify-bundle-v2-" });
  try {
    const kp = keyPair();
    const blob = enc.encode("v2 artifact");
    const artifact = join(dir, "artifact");
    await Deno.writeFile(artifact, blob);
    const { bundle, trustedRoot } = rekorV2HashedRekordOverDsse(statementFor(hexOf(blob)), kp);
    await Deno.writeTextFile(join(dir, "bundle.json"), JSON.stringify(bundle));
    await Deno.writeTextFile(join(dir, "root.json"), JSON.stringify(trustedRoot));
    await Deno.writeTextFile(join(dir, "key.pub"), kp.pem);
    const common = [
      "--bundle",
      join(dir, "bundle.json"),
      "--key",
      join(dir, "key.pub"),
      "--trusted-root",
      join(dir, "root.json"),
    ];
    let r = await run([...common, artifact]);
    assert.equal(r.code, 0, r.err);
    r = await run([...common, `sha256:${hexOf(blob)}`]);
    assert.equal(r.code, 0, r.err);
    r = await run([...common, `sha256:${"ab".repeat(32)}`]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /not a subject/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("verify-bundle: an upper-case hex digest is no digest: not verified, refused", async () => {
  await using fx = await startFixture();
  const kp = keyPair();
  const blob = enc.encode("a.txt contents\n");
  const keyPath = join(fx.dir, "key.pub");
  await Deno.writeTextFile(keyPath, kp.pem);
  const keyed = join(fx.dir, "keyed.sigstore.json");
  await Deno.writeTextFile(keyed, JSON.stringify(await messageBundle(fx.ss, blob, kp)));
  const root = ["--trusted-root", fx.rootPath];
  const lower = `sha256:${hexOf(blob)}`;
  const ok = await run(["--bundle", keyed, "--key", keyPath, ...root, lower]);
  assert.equal(ok.code, 0, ok.err);
  // The same digest in upper case is not `sha256:<64 lowercase hex>`: it names a file, absent.
  const upper = `sha256:${hexOf(blob).toUpperCase()}`;
  const r = await run(["--bundle", keyed, "--key", keyPath, ...root, upper]);
  assert.notEqual(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /Verified OK/);
  assert.match(r.err, /cannot read artifact/);
});

Deno.test("verify-bundle: FILE_OR_DIGEST follows the protocol", async () => {
  assert.ok(looksLikeDigest(`sha256:${"a".repeat(64)}`));
  assert.ok(!looksLikeDigest(`sha256:${"a".repeat(63)}`));
  assert.ok(!looksLikeDigest(`sha512:${"a".repeat(64)}`));
  assert.ok(!looksLikeDigest(`sha256:${"g".repeat(64)}`));
  assert.ok(!looksLikeDigest(`sha256:${"AB".repeat(32)}`));
  const d = await resolveArtifact(`sha256:${"ab".repeat(32)}`);
  assert.equal(d.kind, "digest");
  const dir = await Deno.makeTempDir();
  try {
    // a path that exists is a file even when it looks like a digest
    const name = join(dir, "sha256:" + "c".repeat(64));
    await Deno.writeTextFile(name, "file");
    const f = await resolveArtifact(name);
    assert.equal(f.kind, "file");
    await assert.rejects(() => resolveArtifact(join(dir, "missing")), /cannot read artifact/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
