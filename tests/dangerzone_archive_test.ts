/**
 * prepare-archive / load-archive against Dangerzone's own archive logic
 * (rebuilt from its source in tests/helpers/dangerzone_archive.ts): our
 * archive passes Dangerzone's checks and its converted signatures verify;
 * an archive exactly as Dangerzone writes it (cosign save + Python's
 * json/tarfile) loads; `podman load -i` takes ours as it is; the output
 * defaults and the no-overwrite rule; archives written before this format
 * still load.
 */
import { vfsStorageConf } from "./helpers/podman_storage.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as prepare } from "../commands/prepare-archive.ts";
import { rewriteArchive } from "./helpers/files.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import {
  cosignSaveLayout,
  dangerzoneChecks,
  dangerzoneTar,
  tarMembers,
} from "./helpers/dangerzone_archive.ts";
import { parseCosignSignatureList } from "../lib/signatures/cosign_list.ts";
import { verifyCosignSignatures } from "../lib/signatures/verify.ts";
import { onPath } from "../lib/runtime/exec.ts";
import { canStartDockerd, startDockerd } from "./helpers/dockerd.ts";

const dec = new TextDecoder();
const opts = { sanitizeResources: false, sanitizeOps: false };
const python = onPath("python3");

function sinks() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, sinks: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

/** Run a command file as its own program (no network permission unless given). */
async function runCli(file: string, args: string[], o: { cwd?: string; net?: boolean } = {}) {
  const p = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      ...(o.net ? ["--allow-net"] : []),
      join(import.meta.dirname!, "..", "commands", file),
      ...args,
    ],
    cwd: o.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: p.code, out: dec.decode(p.stdout), err: dec.decode(p.stderr) };
}

/** An index (amd64 + arm64) signed recursively: the index and each platform manifest. */
async function recursivelySigned(lab: Awaited<ReturnType<typeof startSigningLab>>, repo: string) {
  const idx = await lab.pushIndex(repo, { v: repo }, "latest");
  await lab.sign(repo, idx.digest);
  await lab.sign(repo, idx.amd64Digest);
  await lab.sign(repo, idx.arm64.manifestDescriptor.digest);
  return idx;
}

Deno.test({
  name: "prepare-archive writes Dangerzone's archive: its checks pass, its signatures verify",
  ...opts,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/sandbox";
    const idx = await recursivelySigned(lab, repo);
    const out = join(lab.dir, "ours.tar");
    const s = sinks();
    const code = await prepare.main(
      [
        "--output",
        out,
        `${lab.reg.host}/${repo}:latest`,
        "--platform",
        "linux/amd64",
        ...lab.trustArgs,
        "--json",
      ],
      s.sinks,
    );
    assert.equal(code, 0, s.err.join("\n"));
    const summary = JSON.parse(s.out[0]);
    // The platform's own signed manifest, as Dangerzone's prepare-archive saves it.
    assert.equal(summary.digest, idx.amd64Digest);
    assert.equal(summary.indexDigest, idx.digest);
    assert.equal(summary.dangerzoneCompatible, true);
    assert.deepEqual(s.err, []);

    const view = await dangerzoneChecks(out);
    assert.equal(view.imageDigest, idx.amd64Digest);
    assert.equal(view.imageName, `${lab.reg.host}/${repo}`);
    // What Dangerzone stores and verifies: its converted list verifies for that digest.
    const converted = parseCosignSignatureList(JSON.stringify(view.signatures));
    const v = verifyCosignSignatures(converted, view.imageDigest, {
      key: lab.key,
      trustedRoot: lab.trustedRoot,
    });
    assert.ok(v.ok, JSON.stringify(v.reports));

    // The members, in tarfile's order: ./, blobs (sorted), dangerzone.json, index.json,
    // manifest.json (ours alone: docker-archive's list, so `docker load -i` of Engine < 25
    // takes the archive too), oci-layout.
    const members = await tarMembers(out);
    const names = [...members.keys()];
    const blobs = names.filter((n) => n.startsWith("./blobs/sha256/"));
    assert.deepEqual(names, [
      ".",
      "./blobs",
      "./blobs/sha256",
      ...[...blobs].sort(),
      "./dangerzone.json",
      "./index.json",
      "./manifest.json",
      "./oci-layout",
    ]);
    // Dangerzone's own archive of the same image, from a cosign-save layout, by Python.
    if (python) {
      const layout = join(lab.dir, "cosign-save");
      await cosignSaveLayout(lab.client, repo, idx.amd64Digest, layout);
      const theirs = join(lab.dir, "theirs.tar");
      await dangerzoneTar(layout, theirs);
      const their = await tarMembers(theirs);
      assert.deepEqual(
        names.filter((n) => n !== "./manifest.json"),
        [...their.keys()],
        "the same members in the same order (and docker-archive's manifest.json)",
      );
      for (const [name, bytes] of their) {
        assert.deepEqual(members.get(name), bytes, `${name}: the same bytes`);
      }
    }
  },
});

Deno.test({
  name: "load-archive installs an archive exactly as Dangerzone writes it",
  ignore: !python,
  ...opts,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/sandbox";
    const idx = await recursivelySigned(lab, repo);
    const layout = join(lab.dir, "cosign-save");
    await cosignSaveLayout(lab.client, repo, idx.amd64Digest, layout);
    const theirs = join(lab.dir, "dangerzone-amd64.tar");
    await dangerzoneTar(layout, theirs);
    assert.equal((await dangerzoneChecks(theirs)).imageDigest, idx.amd64Digest);
    const r = await runCli("load-archive.ts", [
      theirs,
      ...lab.trustArgs,
      "--data-dir",
      join(lab.dir, "data"),
      "--runtime",
      `oci:${join(lab.dir, "store")}`,
      "--json",
    ]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.digest, idx.amd64Digest);
    assert.equal(j.image, `${lab.reg.host}/${repo}:latest`);
  },
});

Deno.test({
  name: "archives in the earlier format (no './', index.json = dangerzone.json) still load",
  ...opts,
  async fn() {
    await using lab = await startSigningLab();
    const d = await lab.push("dz/app", { v: "old" }, "latest");
    await lab.sign("dz/app", d);
    const out = join(lab.dir, "new.tar");
    const trust = [...lab.trustArgs];
    assert.equal(
      await prepare.main(["--output", out, `${lab.reg.host}/dz/app`, ...trust], sinks().sinks),
      0,
    );
    const old = join(lab.dir, "old.tar");
    await rewriteArchive(out, old, (files) => {
      const entries = [...files];
      files.clear();
      for (const [n, b] of entries) files.set(n.replace(/^\.\//, ""), b);
      files.set("index.json", files.get("dangerzone.json")!);
    });
    const members = await tarMembers(old);
    assert.ok(members.has("index.json") && !members.has("./index.json"));
    const r = await runCli("load-archive.ts", [
      old,
      ...trust,
      "--data-dir",
      join(lab.dir, "data"),
      "--runtime",
      `oci:${join(lab.dir, "store")}`,
      "--json",
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).digest, d);
  },
});

Deno.test({
  name:
    "prepare-archive: dangerzone-{arch}.tar by default; never overwrites or creates directories",
  ...opts,
  async fn() {
    await using lab = await startSigningLab();
    const d = await lab.push("dz/app", { v: "out" }, "latest");
    await lab.sign("dz/app", d);
    const cwd = join(lab.dir, "work");
    await Deno.mkdir(cwd);
    const trust = [...lab.trustArgs];
    const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
    let r = await runCli("prepare-archive.ts", [`${lab.reg.host}/dz/app`, ...trust], {
      cwd,
      net: true,
    });
    assert.equal(r.code, 0, r.err);
    const made = join(cwd, `dangerzone-${arch}.tar`);
    const before = await Deno.readFile(made);
    // Again: the file exists → exit 2, one line with a hint, the file untouched.
    r = await runCli("prepare-archive.ts", [`${lab.reg.host}/dz/app`, ...trust], {
      cwd,
      net: true,
    });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /already exists; refusing to overwrite it/);
    assert.match(r.err, /--force/);
    assert.deepEqual(await Deno.readFile(made), before);
    // With no IMAGE (the default image) the same check comes first, before any network.
    r = await runCli("prepare-archive.ts", [...trust], { cwd });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /already exists/);
    // {arch} in --output, and a missing directory is not created.
    r = await runCli("prepare-archive.ts", [
      `${lab.reg.host}/dz/app`,
      "--output",
      join(cwd, "missing", "dz-{arch}.tar"),
      ...trust,
    ], { net: true });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /directory .*missing does not exist/);
    await assert.rejects(Deno.stat(join(cwd, "missing")), Deno.errors.NotFound);
    // --force replaces it.
    await Deno.writeTextFile(made, "stale");
    r = await runCli("prepare-archive.ts", [`${lab.reg.host}/dz/app`, ...trust, "--force"], {
      cwd,
      net: true,
    });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(await Deno.readFile(made), before);
    const left = [];
    for await (const e of Deno.readDir(cwd)) left.push(e.name);
    assert.deepEqual(left, [`dangerzone-${arch}.tar`], "no temporary file left");
  },
});

Deno.test({
  name: "podman load -i takes our archive as it is (vfs storage), under the digest Dangerzone tags",
  ignore: !onPath("podman"),
  ...opts,
  async fn() {
    await using lab = await startSigningLab();
    const pm = join(lab.dir, "podman");
    await Deno.mkdir(pm);
    const conf = await vfsStorageConf(pm);
    const podman = async (...args: string[]) => {
      const p = await new Deno.Command("podman", {
        args,
        env: { CONTAINERS_STORAGE_CONF: conf },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { ok: p.success, out: dec.decode(p.stdout), err: dec.decode(p.stderr) };
    };
    const trust = [...lab.trustArgs];
    const repo = "dz/sandbox";
    const idx = await recursivelySigned(lab, repo);
    const out = join(lab.dir, "dz.tar");
    assert.equal(
      await prepare.main(
        ["--output", out, `${lab.reg.host}/${repo}`, "--platform", "linux/amd64", ...trust],
        sinks().sinks,
      ),
      0,
    );
    const loaded = await podman("load", "-i", out);
    assert.ok(loaded.ok, loaded.err);
    // Dangerzone finds the loaded image by `podman images --format json` → Digest.
    const images = JSON.parse((await podman("images", "--format", "json")).out);
    const hit = images.find((i: { Digest: string }) => i.Digest === idx.amd64Digest);
    assert.ok(hit, `no image with digest ${idx.amd64Digest}: ${JSON.stringify(images)}`);
    assert.equal(`sha256:${hit.Id}`, idx.amd64.configDescriptor.digest);

    // An index signed only at the top: the archive holds the signed index; podman loads it too.
    const repo2 = "dz/toponly";
    const idx2 = await lab.pushIndex(repo2, { v: "top" }, "latest");
    await lab.sign(repo2, idx2.digest);
    const out2 = join(lab.dir, "top.tar");
    const s = sinks();
    assert.equal(
      await prepare.main(
        ["--output", out2, `${lab.reg.host}/${repo2}`, "--platform", "linux/amd64", ...trust],
        s.sinks,
      ),
      0,
      s.err.join("\n"),
    );
    assert.match(s.err.join("\n"), /needs the platform manifest signed/);
    const loaded2 = await podman("load", "-i", out2);
    assert.ok(loaded2.ok, loaded2.err);
    const images2 = JSON.parse((await podman("images", "--format", "json")).out);
    assert.ok(
      images2.some((i: { Id: string }) => `sha256:${i.Id}` === idx2.amd64.configDescriptor.digest),
    );
  },
});

Deno.test({
  name: "docker load -i (Engine 20.10, docker-archive reader) takes our archive as it is",
  ignore: !canStartDockerd(),
  ...opts,
  async fn() {
    await using lab = await startSigningLab();
    await using dockerd = await startDockerd();
    const trust = [...lab.trustArgs];
    const repo = "dz/dockerload";
    const idx = await recursivelySigned(lab, repo);
    const out = join(lab.dir, "dz.tar");
    assert.equal(
      await prepare.main(
        ["--output", out, `${lab.reg.host}/${repo}`, "--platform", "linux/amd64", ...trust],
        sinks().sinks,
      ),
      0,
    );
    // Still Dangerzone's archive, and still ours.
    await dangerzoneChecks(out);
    const loaded = await dockerd.docker("load", "-i", out);
    assert.match(loaded, new RegExp(`Loaded image: ${lab.reg.host}/${repo}:latest`));
    const id = (await dockerd.docker(
      "image",
      "inspect",
      "--format",
      "{{.Id}}",
      `${lab.reg.host}/${repo}:latest`,
    ))
      .trim();
    assert.equal(id, idx.amd64.configDescriptor.digest);
  },
});
