/**
 * The command line a crane / cosign user expects (issue 17): global options
 * before or after the command name, pflag-style flags (bare booleans never
 * swallow an argument), our own one-line errors with "did you mean", each
 * error's line and exit code, per-command help, `upgrade --check`
 * installing nothing, `status` after an upgrade and after the image is
 * removed, `--platform` a single-platform image lacks, completion scripts.
 * Real registry, local Sigstore, OCI store; `mod.ts` run as a program where
 * the dispatch itself is under test.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { closest, editDistance, parseArguments } from "../lib/cli/args.ts";
import { COMMANDS, splitCommand } from "../mod.ts";
import { helpText } from "../lib/cli/command.ts";
import { exitStatusOf } from "../lib/cli/exit_codes.ts";
import type { Command } from "../lib/cli/command.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { snapshot } from "./helpers/files.ts";
import {
  fulcioLeaf,
  ISSUER,
  keyPair,
  messageBundle,
  startFixture,
  SUBJECT,
} from "./helpers/bundle_fixtures.ts";
import { envWith } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

const MOD = fileURLToPath(new URL("../mod.ts", import.meta.url));

async function program(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

async function run(cmd: Command, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cmd.main(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: envWith(testEnv),
  });
  return { code, out: out.join("\n"), err };
}

const load = async (name: string) => (await COMMANDS[name].load()).command;

Deno.test("args: pflag habits, bare booleans, unknown options with a suggestion", () => {
  const specs = {
    "tlog-upload": { type: "boolean" as const },
    key: { type: "string" as const, value: "FILE" },
    annotations: { type: "string" as const, short: "a", multiple: true },
    yes: { type: "boolean" as const, short: "y" },
    quiet: { type: "boolean" as const, short: "q" },
  };
  // A bare boolean never takes the next argument.
  let p = parseArguments(["--tlog-upload", "IMAGE"], specs);
  assert.deepEqual(p, { values: { "tlog-upload": true }, positionals: ["IMAGE"] });
  p = parseArguments(
    ["--tlog-upload=false", "IMAGE", "--key=k", "-a", "x=1", "-ab=2", "-yq"],
    specs,
  );
  assert.deepEqual(p.values, {
    "tlog-upload": false,
    key: "k",
    annotations: ["x=1", "b=2"],
    yes: true,
    quiet: true,
  });
  assert.deepEqual(parseArguments(["--", "--key"], specs).positionals, ["--key"]);
  assert.throws(() => parseArguments(["--tlog-upload=maybe"], specs), /takes true or false/);
  assert.throws(() => parseArguments(["--key"], specs), /--key needs a value \(FILE\)/);
  assert.throws(() => parseArguments(["--key", "--yes"], specs), /--key needs a value/);
  assert.throws(
    () => parseArguments(["--tlog-uplod"], specs, "x --help"),
    (e: Error & { hint?: string }) =>
      e.message === "unknown option --tlog-uplod (did you mean --tlog-upload?)" &&
      exitStatusOf(e) === 2 && e.hint === "see 'x --help'",
  );
  assert.throws(
    () => parseArguments(["--frobnicate"], specs),
    /^Error: unknown option --frobnicate$|unknown option --frobnicate$/,
  );
  assert.throws(() => parseArguments(["-z"], specs), /unknown option -z/);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(closest("keys", ["key", "json"]), "key");
  assert.equal(closest("zzzz", ["key"]), undefined);
});

Deno.test("mod: global options before the command name are kept for it", () => {
  assert.deepEqual(splitCommand(["--json", "upgrade", "IMG"]), {
    name: "upgrade",
    rest: ["--json", "IMG"],
  });
  assert.deepEqual(splitCommand(["--data-dir", "upgrade", "status", "-q"]), {
    name: "status",
    rest: ["--data-dir", "upgrade", "-q"],
  });
  assert.deepEqual(splitCommand(["--key=k.pub", "verify-local", "X"]).name, "verify-local");
  assert.deepEqual(splitCommand(["--json"]), { rest: ["--json"] });
});

Deno.test("mod: no arguments → usage on stderr, exit 2; --version, help COMMAND, typos", async () => {
  let r = await program([]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^dangerzone-image: keep a container image/);
  assert.match(r.stderr, /Usage: dangerzone-image \[global options\] <command>/);
  r = await program(["--version"]);
  assert.deepEqual([r.code, r.stdout.trim()], [0, "dangerzone-image 0.1.0"]);
  r = await program(["--json", "version"]);
  assert.equal(JSON.parse(r.stdout).version, "0.1.0");
  r = await program(["help", "sign"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: dangerzone-image sign IMAGE@DIGEST/);
  r = await program(["upgarde"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'upgarde' \(did you mean 'upgrade'\?\)/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
  r = await program(["upgrade", "--tagg", "x"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.trim(),
    "dangerzone-image upgrade: unknown option --tagg (did you mean --tag?) (see 'dangerzone-image upgrade --help')",
  );
});

Deno.test("help: only the options a command uses, aligned, with its environment", async () => {
  const sign = helpText((await load("sign")).spec);
  assert.match(sign, /--key FILE\s+the PRIVATE key to sign with/);
  assert.doesNotMatch(sign, /--runtime|trusted cosign public key|--data-dir/);
  assert.match(sign, /-y, --yes/);
  assert.match(sign, /COSIGN_PASSWORD/);
  const load_ = helpText((await load("load-archive")).spec);
  assert.match(load_, /Disk: /);
  assert.doesNotMatch(load_, /--proxy|--authfile/, "load-archive is offline");
  for (const name of Object.keys(COMMANDS)) {
    const text = helpText((await load(name)).spec);
    // Within each block, the descriptions start in one column.
    const rows = text.split("\n").filter((l) => /^ {2}(-\w, | {4})--\S/.test(l));
    const cols = new Set(
      rows.map((l) => l.search(/\S\s{2,}\S/) >= 0 ? l.match(/^.*?\S\s{2,}/)![0].length : -1),
    );
    assert.equal(cols.size, 1, `${name}: aligned options\n${rows.join("\n")}`);
    assert.match(text, /--json/);
  }
});

Deno.test("completion: bash completes commands and a command's options", async () => {
  const r = await run(await load("completion"), ["bash"]);
  assert.equal(r.code, 0);
  const script = join(await Deno.makeTempDir(), "c.bash");
  await Deno.writeTextFile(script, r.out);
  const complete = async (words: string[]) => {
    const out = await new Deno.Command("bash", {
      args: [
        "-c",
        `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${
          words.length - 1
        }; _dangerzone_image; echo "\${COMPREPLY[@]}"`,
      ],
      stdout: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout).trim().split(/\s+/);
  };
  assert.deepEqual(await complete(["dangerzone-image", "upgr"]), ["upgrade"]);
  assert.deepEqual(await complete(["dangerzone-image", "--json", "upgrade", "--ch"]), ["--check"]);
  assert.ok((await complete(["dangerzone-image", "sign", "--tl"])).includes("--tlog-upload"));
  for (const shell of ["zsh", "fish"]) {
    const s = await run(await load("completion"), [shell]);
    assert.equal(s.code, 0);
    assert.match(s.out, /verify-signatures/);
  }
});

Deno.test({
  name: "CLI errors: one line, what to do, documented exit code",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const upgrade = await load("upgrade");
    const verifyLocal = await load("verify-local");
    const d = await lab.push("dz/e", { v: "1" }, "latest");
    await lab.sign("dz/e", d);
    const base = ["--trusted-root", lab.rootPath, "--data-dir", join(lab.dir, "d")];
    const check = async (cmd: Command, args: string[], code: number, line: RegExp) => {
      const r = await run(cmd, args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.err.join("\n")}`);
      assert.equal(r.err.length, 1, `one line: ${r.err.join("\n")}`);
      assert.match(r.err[0], line);
    };
    const store = ["--runtime", `oci:${join(lab.dir, "s")}`, "--progress", "none"];
    // A typo'd image name.
    await check(
      upgrade,
      [`${lab.reg.host}/dz/ee`, "--key", lab.keyPath, ...base, ...store],
      3,
      /no such image\/tag latest in 127\.0\.0\.1:\d+\/dz\/ee; check the name/,
    );
    // Missing key file; a private key given as --key.
    await check(
      upgrade,
      [`${lab.reg.host}/dz/e`, "--key", join(lab.dir, "nope.pub"), ...base, ...store],
      2,
      /key file .*nope\.pub does not exist \(pass the trusted public key's path with --key/,
    );
    await check(
      verifyLocal,
      [`${lab.reg.host}/dz/e`, "--key", join(lab.dir, "trusted.key"), ...base],
      2,
      /trusted\.key is a private key; --key here takes the public key \(pass the \.pub file/,
    );
    // A bad --insecure-registry host.
    await check(
      upgrade,
      [`${lab.reg.host}/dz/e`, "--insecure-registry", "bad host!", ...base],
      2,
      /--insecure-registry 'bad host!' is not HOST\[:PORT\]/,
    );
    // --platform a single-platform image lacks: exit 2, nothing installed; also once installed.
    const data = join(lab.dir, "d");
    const snap = await snapshot(data, join(lab.dir, "s"));
    const win = [`${lab.reg.host}/dz/e`, "--key", lab.keyPath, ...base, ...store];
    await check(
      upgrade,
      [...win, "--platform", "windows/amd64"],
      2,
      /a single-platform image\) has no windows\/amd64 image \(it has: linux\/amd64\) \(omit --platform/,
    );
    assert.deepEqual(await snapshot(data, join(lab.dir, "s")), snap);
    assert.equal((await run(upgrade, win)).code, 0);
    await check(upgrade, [...win, "--platform", "windows/amd64"], 2, /has no windows\/amd64 image/);
    assert.equal((await run(upgrade, [...win, "--platform", "linux/amd64"])).code, 0);
    // A gzipped archive.
    const gz = join(lab.dir, "a.tar.gz");
    await Deno.writeFile(gz, new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
    await check(
      await load("load-archive"),
      [gz, "--key", lab.keyPath, ...base, ...store],
      2,
      /a\.tar\.gz is gzip-compressed, not a plain tar archive \(decompress it first \(e\.g\. gunzip -k/,
    );
    // attest-provenance archive:… names the archive, never a temporary directory.
    const archive = join(lab.dir, "p.tar");
    assert.equal(
      (await run(await load("prepare-archive"), [
        `${lab.reg.host}/dz/e@${d}`,
        "--output",
        archive,
        ...lab.trustArgs,
      ])).code,
      0,
    );
    const r = await run(await load("attest-provenance"), [
      `archive:${archive}`,
      "--repository",
      "a/b",
      ...base,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.err[0], new RegExp(`archive:${archive}`));
    assert.doesNotMatch(r.err[0], /\/tmp\/archive-|oci:/);
  },
});

Deno.test({
  name: "upgrade --check installs nothing; status after upgrade and after removal",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const upgrade = await load("upgrade");
    const status = await load("status");
    const data = join(lab.dir, "data");
    const store = join(lab.dir, "store");
    const repo = "dz/st";
    const name = `${lab.reg.host}/${repo}:latest`;
    const common = [
      ...lab.trustArgs,
      "--data-dir",
      data,
      "--runtime",
      `oci:${store}`,
    ];
    const d1 = await lab.push(repo, { v: "1" }, "latest", { created: "2024-03-01T00:00:00Z" });
    const i1 = await lab.sign(repo, d1);

    // Nothing installed: --check says an update is available and writes nothing at all.
    let r = await run(upgrade, ["--json", `${lab.reg.host}/${repo}`, ...common, "--check"]);
    assert.equal(r.code, 0, r.err.join("\n"));
    let j = JSON.parse(r.out);
    assert.deepEqual([j.status, j.updateAvailable, j.digest, j.previousDigest], [
      "available",
      true,
      d1,
      null,
    ]);
    await assert.rejects(Deno.stat(data), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(store), Deno.errors.NotFound);
    r = await run(status, [name, "--data-dir", data, "--json"]);
    assert.equal(JSON.parse(r.out).installed, false);

    // Installed: status shows it all.
    assert.equal((await run(upgrade, [`${lab.reg.host}/${repo}`, ...common])).code, 0);
    r = await run(status, ["--json", name, "--data-dir", data]);
    assert.equal(r.code, 0, r.err.join("\n"));
    j = JSON.parse(r.out);
    assert.equal(j.installed, true);
    assert.equal(j.digest, d1);
    assert.equal(j.platformDigest, d1);
    assert.equal(j.created, "2024-03-01T00:00:00.000Z");
    assert.equal(j.tlog[0].logIndex, i1);
    assert.equal(j.runtime, `oci:${store}`);
    assert.equal(j.present, true);
    r = await run(status, [name, "--data-dir", data]);
    assert.match(r.out, /present: +yes/);

    // Up to date: --check says so; a newer signed image: available, still nothing installed.
    r = await run(upgrade, [`${lab.reg.host}/${repo}`, ...common, "--check", "--json"]);
    assert.equal(JSON.parse(r.out).updateAvailable, false);
    const d2 = await lab.push(repo, { v: "2" }, "latest", { created: "2024-04-01T00:00:00Z" });
    await lab.sign(repo, d2);
    const before = await snapshot(data, store);
    r = await run(upgrade, [`${lab.reg.host}/${repo}`, ...common, "--check"]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.match(r.out, /^Update available for .*run without --check to install/);
    assert.deepEqual(await snapshot(data, store), before, "--check changed nothing");
    // An unsigned newer image: --check refuses it as upgrade would (exit 1).
    await lab.push(repo, { v: "3" }, "latest");
    r = await run(upgrade, [`${lab.reg.host}/${repo}`, ...common, "--check"]);
    assert.equal(r.code, 1);
    assert.deepEqual(await snapshot(data, store), before);

    // The image removed from the store: status says it is gone.
    const indexFile = join(store, "index.json");
    const index = JSON.parse(await Deno.readTextFile(indexFile));
    await Deno.writeTextFile(indexFile, JSON.stringify({ ...index, manifests: [] }));
    r = await run(status, [name, "--data-dir", data, "--json"]);
    j = JSON.parse(r.out);
    assert.deepEqual([r.code, j.installed, j.present], [0, true, false]);
    r = await run(status, [name, "--data-dir", data]);
    assert.match(r.out, /present: +NO: the runtime no longer holds it/);
  },
});

Deno.test({
  name: "sign: -y and a bare --tlog-upload before the image; --authfile; logout --all",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    testEnv.COSIGN_PASSWORD = "pw";
    try {
      const prefix = join(lab.dir, "s");
      assert.equal(
        (await run(await load("generate-key-pair"), ["--output-key-prefix", prefix])).code,
        0,
      );
      const d = await lab.push("dz/y", { v: "1" }, "v1");
      const sign = await load("sign");
      // Bare --tlog-upload = true, and it does not swallow the image argument.
      const r = await run(sign, [
        "-y",
        "--tlog-upload",
        `${lab.reg.host}/dz/y@${d}`,
        "--key",
        `${prefix}.key`,
        "--trusted-root",
        lab.rootPath,
        "--rekor-url",
        lab.rekorUrl,
        "--json",
      ]);
      assert.equal(r.code, 0, r.err.join("\n"));
      const j = JSON.parse(r.out);
      assert.equal(j.tlog.length, 1);
      assert.equal(j.signatures, 1);
    } finally {
      testEnv.COSIGN_PASSWORD = undefined;
    }
    // --authfile: login / logout --all edit exactly that file.
    const authFile = join(lab.dir, "auth.json");
    await Deno.writeTextFile(
      authFile,
      JSON.stringify({
        auths: { "a.example": { auth: btoa("u:p") }, "b.example": { auth: btoa("v:q") } },
      }),
    );
    const out = await run(await load("logout"), ["--all", "--authfile", authFile, "--json"]);
    assert.equal(out.code, 0, out.err.join("\n"));
    assert.deepEqual(JSON.parse(out.out).registries, ["a.example", "b.example"]);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(authFile)).auths, {});
    assert.equal((await Deno.stat(authFile)).mode! & 0o777, 0o600);
  },
});

Deno.test("verify-bundle: identity and issuer regexps, anchored as cosign", async () => {
  await using fx = await startFixture();
  const kp = keyPair();
  const blob = new TextEncoder().encode("hello\n");
  const artifact = join(fx.dir, "a.txt");
  await Deno.writeFile(artifact, blob);
  const bundle = join(fx.dir, "b.json");
  const cert = await fulcioLeaf(fx.ss, kp);
  await Deno.writeTextFile(bundle, JSON.stringify(await messageBundle(fx.ss, blob, kp, cert)));
  const vb = await load("verify-bundle");
  const base = ["--bundle", bundle, "--trusted-root", fx.rootPath, artifact];
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const ok = async (...id: string[]) => (await run(vb, [...id, ...base])).code;
  assert.equal(
    await ok(
      "--certificate-identity-regexp",
      `${esc(SUBJECT.slice(0, 10))}.*`,
      "--certificate-oidc-issuer",
      ISSUER,
    ),
    0,
  );
  assert.equal(
    await ok(
      "--certificate-identity",
      SUBJECT,
      "--certificate-oidc-issuer-regexp",
      "https://oidc\\..*",
    ),
    0,
  );
  // Anchored: a regex matching only part of the value is refused (exit 1).
  assert.equal(
    await ok(
      "--certificate-identity-regexp",
      esc(SUBJECT.slice(1, 10)),
      "--certificate-oidc-issuer",
      ISSUER,
    ),
    1,
  );
  assert.equal(
    await ok("--certificate-identity", SUBJECT, "--certificate-oidc-issuer-regexp", "oidc\\.local"),
    1,
  );
  // Both forms of one option: usage error.
  assert.equal(
    await ok(
      "--certificate-identity",
      SUBJECT,
      "--certificate-identity-regexp",
      ".*",
      "--certificate-oidc-issuer",
      ISSUER,
    ),
    2,
  );
});

Deno.test("docs/cli.md: every command and each of its options is documented; README links it", async () => {
  const doc = await Deno.readTextFile(new URL("../docs/cli.md", import.meta.url));
  for (const [name, entry] of Object.entries(COMMANDS)) {
    assert.ok(doc.includes(`### ${name}\n`), `docs/cli.md has '### ${name}'`);
    const section = doc.slice(doc.indexOf(`### ${name}\n`)).split("\n### ")[0];
    for (const opt of Object.keys((await entry.load()).command.spec.options ?? {})) {
      assert.ok(section.includes(`--${opt}`), `docs/cli.md: ${name} --${opt}`);
    }
  }
  for (const opt of Object.keys((await import("../lib/cli/global_options.ts")).GLOBAL_OPTIONS)) {
    assert.ok(doc.includes(`--${opt}`), `docs/cli.md: global --${opt}`);
  }
  for (const code of ["0", "1", "2", "3", "130"]) {
    assert.match(doc, new RegExp(`^\\| \`${code}\` +\\|`, "m"), `exit status ${code}`);
  }
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.match(readme, /\(docs\/cli\.md\)/);
  assert.doesNotMatch(readme, /\.\.\/shared\/cli\.md/);
});
