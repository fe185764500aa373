/**
 * The command line against real runtimes, as a user runs it: a private
 * Docker Engine (`dockerd` 20.10, `tests/helpers/dockerd.ts`) and podman
 * (vfs storage), each reached through the environment of the
 * `dangerzone-image` process only (`DOCKER_HOST`, `CONTAINERS_STORAGE_CONF`),
 * with the real registry and the local Sigstore. The data dir is
 * `…/Case With Space/dz`. Checked: upgrade, up to date, verify-local
 * (passes; fails once the image is removed or another image carries its
 * name), `verify-local --deep`, load-archive, `<runtime> images` showing only
 * the installed name, and a runtime that does not answer stopping the
 * upgrade before any request (exit 3, one line).
 */
import { vfsStorageConf } from "./helpers/podman_storage.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { onPath } from "../lib/runtime/exec.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";
import { canStartDockerd, startDockerd } from "./helpers/dockerd.ts";

const MOD = join(import.meta.dirname!, "..", "mod.ts");

/** `dangerzone-image args…` as its own process with `env` added. */
async function cli(env: Record<string, string>, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MOD, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout).trim(), err: dec.decode(out.stderr).trim() };
}

async function tool(bin: string, env: Record<string, string>, ...args: string[]) {
  const out = await new Deno.Command(bin, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout).trim(), err: dec.decode(out.stderr) };
}

async function images(bin: string, env: Record<string, string>): Promise<string[]> {
  const r = await tool(bin, env, "images", "-a", "--format", "{{.Repository}}:{{.Tag}}");
  assert.ok(r.ok, r.err);
  return r.out.split("\n").filter(Boolean).sort();
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "docker (real dockerd 20.10): upgrade, up to date, verify-local [--deep], load-archive",
  ignore: !canStartDockerd(),
  ...opts,
  async fn() {
    await using lab = await startSigningLab();
    await using engine = await startDockerd();
    const env = engine.env;
    const data = join(lab.dir, "Case With Space", "dz");
    const repo = "dz/docker-app";
    const name = `${lab.reg.host}/${repo}:latest`;
    const common = [
      ...lab.trustArgs,
      "--data-dir",
      data,
      "--runtime",
      "docker",
      "--progress",
      "none",
    ];
    const v1 = await buildImage({ files: { v: "docker-cli-1", pad: "d".repeat(4000) } });
    const d1 = await pushImage(lab.client, repo, v1, "latest");
    await lab.sign(repo, d1);

    let r = await cli(env, "upgrade", name, ...common, "--json");
    assert.equal(r.code, 0, r.err);
    let j = JSON.parse(r.out);
    assert.equal(j.status, "upgraded");
    assert.equal(j.digest, d1);
    assert.equal(j.imageId, v1.configDescriptor.digest);
    assert.deepEqual(await images("docker", env), [name]);
    assert.equal(
      (await engine.docker("image", "inspect", "--format", "{{.Id}}", name)).trim(),
      v1.configDescriptor.digest,
    );

    r = await cli(env, "upgrade", name, ...common);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Already up to date/);

    r = await cli(env, "verify-local", name, ...common);
    assert.equal(r.code, 0, r.err);
    r = await cli(env, "verify-local", name, ...common, "--deep", "--json");
    assert.equal(r.code, 0, r.err);
    j = JSON.parse(r.out);
    assert.equal(j.content.layers, 1);

    // Another image tagged with the verified name: refused, with and without --deep.
    const evil = await buildImage({ files: { v: "evil" } });
    const de = await pushImage(lab.client, "dz/evil", evil, "latest");
    await lab.sign("dz/evil", de);
    const evilName = `${lab.reg.host}/dz/evil:latest`;
    assert.equal((await cli(env, "upgrade", evilName, ...common)).code, 0);
    await engine.docker("tag", evilName, name);
    r = await cli(env, "verify-local", name, ...common);
    assert.equal(r.code, 1);
    assert.match(r.err, /not the verified/);
    r = await cli(env, "verify-local", name, ...common, "--deep");
    assert.equal(r.code, 1);

    // The image removed: refused.
    await engine.docker("rmi", name);
    r = await cli(env, "verify-local", name, ...common);
    assert.equal(r.code, 1);
    assert.match(r.err, /holds no image/);

    // load-archive into an empty engine: only the signed name appears.
    const archive = join(lab.dir, "dz.tar");
    r = await cli(env, "prepare-archive", name, "--output", archive, ...common);
    assert.equal(r.code, 0, r.err);
    await engine.docker("image", "prune", "--all", "--force");
    assert.deepEqual(await images("docker", env), []);
    r = await cli(env, "load-archive", archive, ...common, "--force", "--json");
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).imageId, v1.configDescriptor.digest);
    assert.deepEqual(await images("docker", env), [name]);
    r = await cli(env, "verify-local", name, ...common, "--deep");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /content: +1 layer/);
  },
});

Deno.test({
  name: "docker/podman that do not answer: one line, exit 3, nothing requested",
  ...opts,
  async fn() {
    await using lab = await startSigningLab();
    await using proxy = startFaultProxy(lab.reg.url, () => undefined);
    const v1 = await buildImage({ files: { v: "down" } });
    const d1 = await pushImage(lab.client, "dz/down", v1, "latest");
    await lab.sign("dz/down", d1);
    const common = [
      ...lab.trustArgs,
      "--data-dir",
      join(lab.dir, "data"),
      "--progress",
      "none",
    ];
    if (onPath("docker")) {
      const r = await cli(
        { DOCKER_HOST: `unix://${lab.dir}/no-daemon.sock` },
        "upgrade",
        `${proxy.host}/dz/down`,
        ...common,
        "--runtime",
        "docker",
      );
      assert.equal(r.code, 3, r.err);
      assert.equal(r.err.split("\n").length, 1, r.err);
      assert.match(
        r.err,
        /docker: the Docker daemon at unix:\/\/.*no-daemon\.sock does not answer/,
      );
      assert.match(r.err, /systemctl start docker/);
      assert.deepEqual(proxy.seen, []);
    }
    // podman not installed (an empty PATH for the child's lookups).
    const r = await cli(
      { PATH: join(lab.dir, "empty-path") },
      "upgrade",
      `${proxy.host}/dz/down`,
      ...common,
      "--runtime",
      "podman",
    );
    assert.equal(r.code, 3, r.err);
    assert.equal(r.err.split("\n").length, 1, r.err);
    assert.match(r.err, /podman is not installed/);
    assert.deepEqual(proxy.seen, []);
  },
});

Deno.test({
  name: "podman: upgrade and load-archive with data dir '…/Case With Space/dz': only the name",
  ignore: !onPath("podman"),
  ...opts,
  async fn() {
    await using lab = await startSigningLab();
    const pm = join(lab.dir, "podman");
    await Deno.mkdir(pm);
    const conf = await vfsStorageConf(pm);
    const env = { CONTAINERS_STORAGE_CONF: conf };
    const data = join(lab.dir, "Case With Space", "dz");
    const common = [
      ...lab.trustArgs,
      "--data-dir",
      data,
      "--runtime",
      "podman",
      "--progress",
      "none",
    ];
    const repo = "dz/pod-space";
    const name = `${lab.reg.host}/${repo}:latest`;
    const v1 = await buildImage({ files: { v: "space-1" } });
    const d1 = await pushImage(lab.client, repo, v1, "latest");
    await lab.sign(repo, d1);
    let r = await cli(env, "upgrade", name, ...common);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(await images("podman", env), [name]);
    const dig = await tool("podman", env, "images", name, "--format", "{{.Digest}}");
    assert.equal(dig.out, d1);
    r = await cli(env, "verify-local", name, ...common, "--deep");
    assert.equal(r.code, 0, r.err);

    // load-archive: only the signed name again.
    const archive = join(lab.dir, "pod.tar");
    r = await cli(env, "prepare-archive", name, "--output", archive, ...common);
    assert.equal(r.code, 0, r.err);
    assert.ok((await tool("podman", env, "rmi", "-f", name)).ok);
    r = await cli(env, "load-archive", archive, ...common, "--force");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(await images("podman", env), [name]);
    r = await cli(env, "verify-local", name, ...common, "--deep");
    assert.equal(r.code, 0, r.err);
  },
});
