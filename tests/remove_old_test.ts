/**
 * After a successful install the older image of the same repository is
 * removed from the runtime (as Dangerzone does); `--keep-old` keeps it; an
 * older image another name still uses stays. Real podman (vfs storage via
 * `CONTAINERS_STORAGE_CONF`) and a real private dockerd, each driven
 * through `dangerzone-image upgrade` as its own process.
 */
import { vfsStorageConf } from "./helpers/podman_storage.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startSigningLab } from "./helpers/signed_images.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { onPath } from "../lib/runtime/exec.ts";
import { canStartDockerd, startDockerd } from "./helpers/dockerd.ts";

const MOD = join(import.meta.dirname!, "..", "mod.ts");
const dec = new TextDecoder();

async function cli(env: Record<string, string>, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MOD, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, out: dec.decode(out.stdout).trim(), err: dec.decode(out.stderr).trim() };
}

async function tool(bin: string, env: Record<string, string>, ...args: string[]) {
  const out = await new Deno.Command(bin, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  assert.ok(out.success, `${bin} ${args.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout).trim();
}

/** Every image ID the runtime holds (dangling ones included). */
async function imageIds(bin: string, env: Record<string, string>): Promise<string[]> {
  const out = await tool(bin, env, "images", "-a", "--no-trunc", "--format", "{{.ID}}");
  return [...new Set(out.split("\n").filter(Boolean).map((i) => i.replace(/^sha256:/, "")))]
    .sort();
}

async function scenario(runtime: "podman" | "docker", env: Record<string, string>) {
  await using lab = await startSigningLab();
  const repo = `dz/${runtime}-prune`;
  const name = `${lab.reg.host}/${repo}:latest`;
  const common = [
    ...lab.trustArgs,
    "--data-dir",
    join(lab.dir, "data"),
    "--runtime",
    runtime,
    "--progress",
    "none",
  ];
  const release = async (v: string) => {
    const img = await buildImage({ files: { v: `${runtime}-${v}` } });
    const d = await pushImage(lab.client, repo, img, "latest");
    await lab.sign(repo, d);
    return img.configDescriptor.digest.slice(7);
  };
  const v1 = await release("1");
  let r = await cli(env, "upgrade", name, ...common);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(await imageIds(runtime, env), [v1]);

  // v1 → v2: only v2 is left.
  const v2 = await release("2");
  r = await cli(env, "upgrade", name, ...common, "--json");
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out).removedImages, [`sha256:${v1}`]);
  assert.deepEqual(await imageIds(runtime, env), [v2]);

  // --keep-old keeps v2.
  const v3 = await release("3");
  r = await cli(env, "upgrade", name, ...common, "--keep-old");
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(await imageIds(runtime, env), [v2, v3].sort());

  // v3 also named outside the repository: it stays, under that name only.
  await tool(runtime, env, "tag", name, "localhost/keep/me:x");
  const v4 = await release("4");
  r = await cli(env, "upgrade", name, ...common);
  assert.equal(r.code, 0, r.err);
  const left = await imageIds(runtime, env);
  assert.ok(left.includes(v3) && left.includes(v4), left.join(","));
  assert.equal(
    (await tool(runtime, env, "image", "inspect", "--format", "{{.Id}}", "localhost/keep/me:x"))
      .replace(/^sha256:/, ""),
    v3,
  );
}

Deno.test({
  name: "remove old images: podman (vfs), v1 → v2 leaves only v2; --keep-old; other names",
  ignore: !onPath("podman"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const pm = await Deno.makeTempDir({ prefix: "dz-prune-podman-" });
    const conf = await vfsStorageConf(pm);
    try {
      await scenario("podman", { CONTAINERS_STORAGE_CONF: conf });
    } finally {
      await Deno.remove(pm, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "remove old images: docker (real dockerd), v1 → v2 leaves only v2; --keep-old; other names",
  ignore: !canStartDockerd(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using engine = await startDockerd();
    await scenario("docker", engine.env);
  },
});
