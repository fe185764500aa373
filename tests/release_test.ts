/**
 * `deno task release` against the local Sigstore stand-in: SHA256SUMS and a
 * Sigstore bundle per artifact (the bundle, a compiled binary when present);
 * `sha256sum -c` and the project's own `verify-bundle` — run from the
 * released `dangerzone-image.js` itself, offline — accept them, and refuse a
 * swapped artifact or checksum file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { generateCosignKeyPair } from "../lib/keys/private_key.ts";
import { outputName } from "../scripts/compile.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const dec = new TextDecoder();

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

Deno.test({
  name: "release: SHA256SUMS and a bundle per artifact, verified offline by the released bundle",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ss = await startLocalSigstore();
    const dir = await Deno.makeTempDir({ prefix: "dz-release-" });
    try {
      const keys = join(dir, "keys");
      await Deno.mkdir(keys);
      const root = join(keys, "trusted_root.json");
      await ss.writeTrustedRoot(root);
      const pair = await generateCosignKeyPair("release-pw");
      const key = join(keys, "release.key");
      const pub = join(keys, "release.pub");
      await Deno.writeTextFile(key, pair.privateKeyPem);
      await Deno.writeTextFile(pub, pair.publicKeyPem);
      const rel = join(dir, "release");
      await Deno.mkdir(rel);
      // A compiled binary as `deno task compile` names it (its content does not matter here).
      const binary = outputName("aarch64-apple-darwin");
      await Deno.writeFile(join(rel, binary), crypto.getRandomValues(new Uint8Array(65_536)));

      const made = await run(
        Deno.execPath(),
        [
          "run",
          "-A",
          join(ROOT, "scripts", "release.ts"),
          "--key",
          key,
          "--rekor-url",
          ss.rekorUrl,
          "--trusted-root",
          root,
          "--dir",
          rel,
        ],
        dir,
        { COSIGN_PASSWORD: "release-pw" },
      );
      assert.equal(made.code, 0, made.err);
      const names = [...Deno.readDirSync(rel)].map((e) => e.name).sort();
      assert.deepEqual(
        names,
        [
          "SHA256SUMS",
          "SHA256SUMS.sigstore.json",
          binary,
          `${binary}.sigstore.json`,
          "dangerzone-image.js",
          "dangerzone-image.js.sigstore.json",
        ].sort(),
      );
      const sums = await Deno.readTextFile(join(rel, "SHA256SUMS"));
      assert.match(
        sums,
        new RegExp(`^[0-9a-f]{64} {2}${binary}\n[0-9a-f]{64} {2}dangerzone-image\\.js\n$`),
      );

      // What an air-gapped user does: sha256sum -c, then verify-bundle with the carried bundle.
      const check = await run("sha256sum", ["-c", "SHA256SUMS"], rel);
      assert.equal(check.code, 0, check.out + check.err);
      const verify = (file: string) =>
        run(Deno.execPath(), [
          "run",
          "--no-config",
          "--deny-net",
          `--allow-read=${rel},${keys}`,
          "dangerzone-image.js",
          "verify-bundle",
          "--key",
          pub,
          "--trusted-root",
          root,
          "--bundle",
          `${file}.sigstore.json`,
          file,
        ], rel);
      for (const f of ["SHA256SUMS", "dangerzone-image.js", binary]) {
        const r = await verify(f);
        assert.equal(r.code, 0, `${f}: ${r.err}`);
        assert.match(r.out, /^Verified OK: .*hashedrekord\/0\.0\.1 #\d+/);
      }

      // A swapped binary fails both checks; so does a SHA256SUMS edited to match it.
      await Deno.writeFile(join(rel, binary), crypto.getRandomValues(new Uint8Array(65_536)));
      assert.notEqual((await run("sha256sum", ["-c", "SHA256SUMS"], rel)).code, 0);
      assert.equal((await verify(binary)).code, 1);
      const hex = (await run("sha256sum", [binary], rel)).out.slice(0, 64);
      await Deno.writeTextFile(
        join(rel, "SHA256SUMS"),
        sums.replace(new RegExp(`^[0-9a-f]{64}(?=  ${binary})`, "m"), hex),
      );
      assert.equal((await run("sha256sum", ["-c", "SHA256SUMS"], rel)).code, 0);
      assert.equal((await verify("SHA256SUMS")).code, 1, "an edited SHA256SUMS is refused");
    } finally {
      await ss.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("release: no key is a usage error (exit 2) and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run(Deno.execPath(), [
      "run",
      "-A",
      join(ROOT, "scripts", "release.ts"),
      "--dir",
      dir,
    ], dir);
    assert.equal(r.code, 2, r.err);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
