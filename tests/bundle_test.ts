/**
 * `deno task bundle`: `dangerzone-image.js` alone, copied to an empty folder
 * and run with `deno run --no-config --deny-net` and only the permissions
 * each command lists, verifies real Dangerzone signatures, a Sigstore bundle,
 * real SLSA provenance in an `oci:` layout, and loads a signed archive into
 * an `oci:` store (refusing a tampered one); served over loopback HTTP it
 * runs with nothing but permission flags, fetching no other file.
 */
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { buildBundle, ROOT } from "../scripts/bundle.ts";
import { command as prepare } from "../commands/prepare-archive.ts";
import { signBlob } from "../lib/publish/sign_blob.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { rewriteArchive } from "./helpers/files.ts";
import { testdata, testdataOrSkip } from "./helpers/testdata.ts";

const dec = new TextDecoder();

let built: Promise<{ dir: string; path: string }> | undefined;

/** Build the bundle once per test run, into an empty temp folder. */
function bundled(): Promise<{ dir: string; path: string }> {
  built ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "dz-bundle-" });
    const path = join(dir, "dangerzone-image.js");
    await buildBundle(path);
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    return { dir, path };
  })();
  return built;
}

/** `deno run [flags] <script> args` from an empty folder; no config, no network. */
async function runScript(flags: string[], script: string, args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, script, ...args],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

async function runBundle(perms: string[], args: string[]) {
  const { dir, path } = await bundled();
  return await runScript(["--no-config", "--deny-net", ...perms], path, args, dir);
}

function firstSignatureFile(kind: "valid" | "tampered"): string {
  const base = testdata("dangerzone", "signatures", kind);
  for (const d of Deno.readDirSync(base)) {
    if (!d.isDirectory) continue;
    for (const f of Deno.readDirSync(join(base, d.name))) {
      if (f.name.endsWith(".json")) return join(base, d.name, f.name);
    }
  }
  throw new Error(`no ${kind} signature file`);
}

const ignore = testdataOrSkip("bundle");

Deno.test("bundle: one file, alone in its folder, with the trusted root and Dangerzone's key", async () => {
  const { dir, path } = await bundled();
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["dangerzone-image.js"]);
  const text = await Deno.readTextFile(path);
  const m = text.match(/\nfunction __dzProgramSource\(\) \{\n {2}return (".*");\n\}\n$/s);
  assert.ok(m, "the program is the string at the end");
  const dispatcher = text.slice(0, m.index);
  const program = JSON.parse(m[1]) as string;
  // Dangerzone's published key and the public-good Rekor are inside.
  assert.ok(program.includes("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3CUlnwh825Z5wQAJV6TekEi6bCK2"));
  assert.ok(program.includes("https://rekor.sigstore.dev"));
  // Nothing to fetch at run time: the dispatcher imports nothing, the program node: builtins only.
  assert.ok(!/\bimport\s*\(|^import[\s{*]/m.test(dispatcher), "the dispatcher imports nothing");
  const imports = [...program.matchAll(/\bimport\s*\(\s*["']([^"']*)["']/g)].map((i) => i[1]);
  assert.ok(imports.length > 0 && imports.every((s) => s.startsWith("node:")), imports.join(" "));
  assert.ok(!/\bimport\s*\(\s*[^"'\s]/.test(program), "no import of a computed specifier");
  assert.ok(!/^\s*import[\s{*]/m.test(program), "no static import left");
  // --help and --version answer without the program.
  const help = await runBundle([], ["--help"]);
  assert.equal(help.code, 0, help.err);
  assert.match(help.out, /Usage: dangerzone-image \[global options\] <command>/);
  assert.match(help.out, /sign-blob/);
  const v = await runBundle([], ["--version"]);
  assert.match(v.out, /^dangerzone-image \d+\.\d+\.\d+/);
  const unknown = await runBundle([], ["no-such-command"]);
  assert.equal(unknown.code, 2);
  const cmdHelp = await runBundle([], ["verify-signatures", "--help"]);
  assert.equal(cmdHelp.code, 0, cmdHelp.err);
  assert.match(cmdHelp.out, /verify-signatures/);
});

Deno.test("bundle: reproducible (a second build is byte for byte the same) and location-free", async () => {
  const { path } = await bundled();
  const dir = await Deno.makeTempDir();
  try {
    const again = join(dir, "again.js");
    await buildBundle(again);
    const a = await Deno.readFile(path);
    const b = await Deno.readFile(again);
    assert.ok(a.length === b.length && a.every((x, i) => x === b[i]), "same bytes");
    const text = dec.decode(a);
    assert.ok(!text.includes(ROOT), "no path of the build machine inside");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "bundle: verify-signatures on real Dangerzone signatures, offline, from an empty folder",
  ignore,
  async fn() {
    const key = testdata("dangerzone", "test.pub.key");
    const valid = firstSignatureFile("valid");
    const good = await runBundle([`--allow-read=${key},${valid}`], [
      "verify-signatures",
      "--key",
      key,
      valid,
      "--digest",
      `sha256:${basename(valid, ".json")}`,
    ]);
    assert.equal(good.code, 0, good.err);
    assert.match(good.out, /all \d+ signature\(s\) verified with key/);
    const tampered = firstSignatureFile("tampered");
    const bad = await runBundle([`--allow-read=${key},${tampered}`], [
      "verify-signatures",
      "--key",
      key,
      tampered,
      "--digest",
      `sha256:${basename(tampered, ".json")}`,
    ]);
    assert.equal(bad.code, 1, bad.out + bad.err);
    // Without --key the embedded Dangerzone key is used: it did not sign the test images.
    const dzKey = await runBundle([`--allow-read=${valid}`], [
      "verify-signatures",
      valid,
      "--digest",
      `sha256:${basename(valid, ".json")}`,
    ]);
    assert.equal(dzKey.code, 1, dzKey.out + dzKey.err);
  },
});

Deno.test({
  name: "bundle: attest-provenance on a real oci: layout, offline, read permission only",
  ignore,
  async fn() {
    const layout = testdata("slsa-github-generator", "v1.4.0", "container_workflow_dispatch");
    const digest = Deno.readTextFileSync(`${layout}.digest`).trim();
    const r = await runBundle([`--allow-read=${layout}`], [
      "attest-provenance",
      `oci:${layout}`,
      "--repository",
      "slsa-framework/example-package",
    ]);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.startsWith("\u{1F389} Successfully verified image\n"), r.out);
    assert.ok(r.out.includes(`oci:${layout}@${digest}`), r.out);
    assert.match(r.out, /- \u2705 GitHub repo: slsa-framework\/example-package/);
    const wrong = await runBundle([`--allow-read=${layout}`], [
      "attest-provenance",
      `oci:${layout}`,
      "--repository",
      "someone/else",
    ]);
    assert.equal(wrong.code, 1, wrong.out + wrong.err);
  },
});

Deno.test({
  name: "bundle: verify-bundle and load-archive (signing lab), offline; tampering refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const { dir: bundleDir } = await bundled();
    const work = await Deno.makeTempDir({ prefix: "dz-bundle-lab-" });
    try {
      // verify-bundle: a sign-blob bundle from the local Rekor.
      const file = join(work, "notes.txt");
      await Deno.writeTextFile(file, "carried across the air gap\n");
      const signed = await signBlob({
        bytes: await Deno.readFile(file),
        path: file,
        signer: lab.signer,
        rekorUrl: lab.rekorUrl,
        trustedRoot: lab.trustedRoot,
      });
      const sb = join(work, "notes.txt.sigstore.json");
      await Deno.writeTextFile(sb, JSON.stringify(signed.bundle));
      const reads = `--allow-read=${sb},${file},${lab.keyPath},${lab.rootPath}`;
      const vb = await runBundle([reads], [
        "verify-bundle",
        "--bundle",
        sb,
        ...lab.trustArgs,
        file,
      ]);
      assert.equal(vb.code, 0, vb.err);
      assert.match(vb.out, /^Verified OK: /);
      await Deno.writeTextFile(file, "carried across the air gap!\n");
      const vbBad = await runBundle([reads], [
        "verify-bundle",
        "--bundle",
        sb,
        ...lab.trustArgs,
        file,
      ]);
      assert.equal(vbBad.code, 1, vbBad.out + vbBad.err);

      // load-archive: an archive made by prepare-archive from the lab's signed image.
      const digest = await lab.push("dz/app", { v: "1" }, "latest");
      await lab.sign("dz/app", digest);
      const archive = join(work, "app.tar");
      const common = [...lab.trustArgs];
      const quiet = { out: () => {}, err: () => {} };
      assert.equal(
        await prepare.main(
          ["--output", archive, `${lab.reg.host}/dz/app:latest`, ...common],
          quiet,
        ),
        0,
      );
      const data = join(work, "data");
      const store = join(work, "store");
      const perms = [`--allow-read=${work},${lab.dir}`, `--allow-write=${work}`, "--allow-env"];
      const args = [...common, "--data-dir", data, "--runtime", `oci:${store}`, "--json"];

      const tampered = join(work, "tampered.tar");
      await rewriteArchive(archive, tampered, (files) => {
        const name = [...files.keys()].find((n) => n.startsWith("./blobs/sha256/"))!;
        const b = files.get(name)!.slice();
        b[0] ^= 1;
        files.set(name, b);
      });
      const refused = await runBundle(perms, ["load-archive", tampered, ...args]);
      assert.equal(refused.code, 1, refused.out + refused.err);
      assert.equal(await Deno.lstat(store).then(() => true, () => false), false, "nothing loaded");

      const loaded = await runBundle(perms, ["load-archive", archive, ...args]);
      assert.equal(loaded.code, 0, loaded.err);
      const j = JSON.parse(loaded.out);
      assert.equal(j.ok, true);
      assert.equal(j.digest, digest);
      const index = JSON.parse(await Deno.readTextFile(join(store, "index.json")));
      assert.ok(
        index.manifests.some((m: { digest: string }) => m.digest === digest),
        JSON.stringify(index),
      );
      assert.deepEqual(
        [...Deno.readDirSync(bundleDir)].map((e) => e.name),
        ["dangerzone-image.js"],
        "the bundle's folder stays empty",
      );
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "bundle: served on loopback, `deno run http://…/dangerzone-image.js` needs only permission flags",
  ignore,
  sanitizeResources: false,
  async fn() {
    const { path } = await bundled();
    const prefix = crypto.randomUUID(); // fresh URL: nothing from Deno's module cache
    const log: string[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const p = new URL(req.url).pathname;
      log.push(p);
      if (p !== `/${prefix}/dangerzone-image.js`) return new Response("not found", { status: 404 });
      const f = await Deno.open(path);
      return new Response(f.readable, {
        headers: { "content-type": "application/javascript; charset=utf-8" },
      });
    });
    const cwd = await Deno.makeTempDir();
    try {
      const url = `http://127.0.0.1:${server.addr.port}/${prefix}/dangerzone-image.js`;
      const key = testdata("dangerzone", "test.pub.key");
      const valid = firstSignatureFile("valid");
      const allowImport = `--allow-import=127.0.0.1:${server.addr.port}`;
      const r = await runScript([allowImport, `--allow-read=${key},${valid}`], url, [
        "verify-signatures",
        "--key",
        key,
        valid,
        "--digest",
        `sha256:${basename(valid, ".json")}`,
      ], cwd);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /all \d+ signature\(s\) verified with key/);
      const help = await runScript([allowImport], url, ["--help"], cwd);
      assert.equal(help.code, 0, help.err);
      assert.match(help.out, /Usage: dangerzone-image \[global options\] <command>/);
      assert.deepEqual(new Set(log), new Set([`/${prefix}/dangerzone-image.js`]), "one file");
    } finally {
      await server.shutdown();
      await Deno.remove(cwd, { recursive: true });
    }
  },
});
