/**
 * The podman and docker runtimes against the real programs: a private
 * `dockerd` (Engine 20.10, `tests/helpers/dockerd.ts`) and podman with vfs
 * storage (`CONTAINERS_STORAGE_CONF` passed per command). Images come from
 * a local OCI layout. Checked: only the asked names appear, the image ID is
 * the config digest, the digest podman reports is the signed index's, a
 * blob that does not hash to its digest reaches neither runtime (and the
 * error says so), `verifyContent` (verify-local --deep) finds a replaced
 * image, data dirs with upper case, spaces or relative paths work, and a
 * runtime that does not answer fails `check()` in one line.
 */
import { vfsStorageConf } from "./helpers/podman_storage.ts";
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { buildImage, type BuiltImage } from "./helpers/image_build.ts";
import { OciLayout } from "../lib/oci/layout.ts";
import { LayoutSource } from "../lib/image/source.ts";
import { CliRuntime } from "../lib/runtime/cli_runtime.ts";
import { onPath } from "../lib/runtime/exec.ts";
import { OCI_INDEX } from "../lib/oci/media_types.ts";
import { sha256Digest } from "../lib/digest/digest.ts";
import type { Manifest } from "../lib/registry/client.ts";
import { DigestMismatchError, RuntimeError, VerificationError } from "../lib/errors/errors.ts";
import { canStartDockerd, startDockerd } from "./helpers/dockerd.ts";
import { exitStatusOf } from "../lib/cli/exit_codes.ts";
import { parseImageManifest } from "../lib/oci/manifest.ts";

async function layoutWith(dir: string, images: BuiltImage[]): Promise<OciLayout> {
  const layout = await OciLayout.openOrCreate(dir);
  for (const i of images) {
    await layout.writeBlobBytes(i.config);
    for (const l of i.layers) await layout.writeBlobBytes(l.bytes);
    await layout.writeBlobBytes(i.manifest);
  }
  return layout;
}

function manifestOf(i: BuiltImage): Manifest {
  return {
    bytes: i.manifest,
    digest: i.manifestDescriptor.digest,
    size: i.manifest.byteLength,
    mediaType: i.manifestDescriptor.mediaType,
  };
}

function indexOf(images: { image: BuiltImage; arch: string }[]): Manifest {
  const bytes = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map(({ image, arch }) => ({
      ...image.manifestDescriptor,
      platform: { os: "linux", architecture: arch },
    })),
  }));
  return { bytes, digest: sha256Digest(bytes), size: bytes.byteLength, mediaType: OCI_INDEX };
}

async function flipLastByte(path: string): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 1] ^= 0xff;
  await Deno.writeFile(path, bytes);
}

async function podmanEnv(dir: string): Promise<Record<string, string>> {
  await Deno.mkdir(dir, { recursive: true });
  const conf = await vfsStorageConf(dir);
  // A user's auth file that does not exist (yet) must not break installs.
  return { CONTAINERS_STORAGE_CONF: conf, REGISTRY_AUTH_FILE: join(dir, "no-auth.json") };
}

async function tool(bin: string, env: Record<string, string>, ...args: string[]) {
  const out = await new Deno.Command(bin, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout).trim(), err: dec.decode(out.stderr) };
}

/** `<rt> images` as `name:tag` lines, `<none>` included. */
async function names(bin: string, env: Record<string, string>): Promise<string[]> {
  const r = await tool(bin, env, "images", "-a", "--format", "{{.Repository}}:{{.Tag}}");
  assert.ok(r.ok, r.err);
  return r.out.split("\n").filter(Boolean).sort();
}

Deno.test({
  name: "docker runtime (real dockerd 20.10): docker-archive load, names, corruption, --deep",
  ignore: !canStartDockerd(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using engine = await startDockerd();
    const dir = await Deno.makeTempDir({ prefix: "dz-rt-docker-" });
    try {
      const rt = new CliRuntime("docker", { env: engine.env });
      await rt.check();
      const v1 = await buildImage({ files: { v: "docker-1", pad: "p".repeat(3000) } });
      const layout = await layoutWith(join(dir, "src"), [v1]);
      const source = new LayoutSource(layout, {});
      const name = "registry.example:5000/dz/Docker-App:latest".toLowerCase();
      const got = await rt.install(source, manifestOf(v1), [name]);
      assert.equal(got.imageId, v1.configDescriptor.digest);
      assert.deepEqual(await names("docker", engine.env), [name]);
      assert.equal((await rt.inspect(name))?.imageId, v1.configDescriptor.digest);
      const check = await rt.verifyContent(name, parseImageManifest(v1.manifest));
      assert.equal(check.layers, 1);

      // The same again: still one name, same image.
      await rt.install(source, manifestOf(v1), [name]);
      assert.deepEqual(await names("docker", engine.env), [name]);

      // A layer that does not hash to its digest: the cause is reported, nothing loaded.
      const v2 = await buildImage({ files: { v: "docker-2", pad: "q".repeat(5000) } });
      const bad = await layoutWith(join(dir, "bad"), [v2]);
      await flipLastByte(bad.blobPath(v2.layers[0].descriptor.digest));
      await assert.rejects(
        rt.install(new LayoutSource(bad, {}), manifestOf(v2), ["dz/other:latest"]),
        (e) => e instanceof DigestMismatchError && /content digest/.test(e.message),
      );
      assert.deepEqual(await names("docker", engine.env), [name]);
      const ids = await engine.docker("images", "-a", "-q", "--no-trunc");
      assert.ok(!ids.includes(v2.configDescriptor.digest), ids);

      // Another image tagged with the verified name: --deep (and inspect) see it.
      const evil = await buildImage({ files: { v: "evil" } });
      const evilLayout = await layoutWith(join(dir, "evil"), [evil]);
      await rt.install(new LayoutSource(evilLayout, {}), manifestOf(evil), ["evil:latest"]);
      await engine.docker("tag", "evil:latest", name);
      await assert.rejects(
        rt.verifyContent(name, parseImageManifest(v1.manifest)),
        (e) => e instanceof VerificationError && /config hashes to/.test(e.message),
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "docker runtime: a daemon that does not answer fails check() in one line",
  ignore: !onPath("docker"),
  async fn() {
    const rt = new CliRuntime("docker", { env: { DOCKER_HOST: "unix:///tmp/dz-no-such.sock" } });
    await assert.rejects(rt.check(), (e) => {
      assert.ok(e instanceof RuntimeError);
      assert.equal(exitStatusOf(e), 3);
      assert.match(e.message, /^docker: the Docker daemon at unix:\/\/\/tmp\/dz-no-such.sock/);
      assert.ok(!e.message.includes("\n"));
      assert.match(e.hint ?? "", /systemctl start docker/);
      return true;
    });
    const missing = new CliRuntime("podman", { binary: "dz-no-such-podman" });
    await assert.rejects(missing.check(), (e) => {
      assert.ok(e instanceof RuntimeError);
      assert.match(e.message, /dz-no-such-podman is not installed/);
      return true;
    });
  },
});

Deno.test({
  name:
    "podman runtime: index digest reported, no stray names, paths with upper case/spaces/relative",
  ignore: !onPath("podman"),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dz-rt-podman-" });
    try {
      const env = await podmanEnv(join(dir, "podman"));
      const amd = await buildImage({ files: { v: "pod-a" }, architecture: "amd64" });
      const arm = await buildImage({ files: { v: "pod-a", a: "arm" }, architecture: "arm64" });
      const index = indexOf([{ image: amd, arch: "amd64" }, { image: arm, arch: "arm64" }]);
      // Only the chosen platform's blobs are present: podman needs no others.
      const layout = await layoutWith(join(dir, "src"), [arm]);
      const source = new LayoutSource(layout, {});
      for (
        const staging of [
          join(dir, "Case With Space", "dz", "tmp"),
          join(dir, "UPPER", "tmp"),
          // A relative staging dir (relative to the working directory, which test files
          // running in parallel share: so no chdir, a path leading into `dir` instead).
          relative(Deno.cwd(), join(dir, "relative-data", "tmp")),
        ]
      ) {
        const rt = new CliRuntime("podman", { env, stagingDir: staging });
        await rt.check();
        const name = "ghcr.io/dz/multi:latest";
        const got = await rt.install(source, manifestOf(arm), [name], undefined, { index });
        assert.equal(got.imageId, arm.configDescriptor.digest);
        assert.deepEqual(await names("podman", env), [name]);
        // What Dangerzone's verify_local_image reads: the signed index digest.
        const d = await tool("podman", env, "images", name, "--format", "{{.Digest}}");
        assert.equal(d.out, index.digest);
        assert.equal((await rt.inspect(name))?.reportedDigest, index.digest);
        const check = await rt.verifyContent(name, parseImageManifest(arm.manifest));
        assert.equal(check.layers, 1);
        assert.ok((await tool("podman", env, "rmi", "-f", name)).ok);
      }

      // A single-platform image: the reported digest is its manifest's.
      const rt = new CliRuntime("podman", { env, stagingDir: join(dir, "Data Dir", "tmp") });
      const single = await layoutWith(join(dir, "single"), [amd]);
      await rt.install(new LayoutSource(single, {}), manifestOf(amd), ["dz/single:latest"]);
      assert.deepEqual(await names("podman", env), ["localhost/dz/single:latest"]);
      const d = await tool("podman", env, "images", "dz/single:latest", "--format", "{{.Digest}}");
      assert.equal(d.out, amd.manifestDescriptor.digest);

      // Another image tagged with the name: --deep fails naming the config.
      const evil = await buildImage({ files: { v: "evil-pod" } });
      const evilLayout = await layoutWith(join(dir, "evil"), [evil]);
      await rt.install(new LayoutSource(evilLayout, {}), manifestOf(evil), ["evil:latest"]);
      assert.ok((await tool("podman", env, "tag", "evil:latest", "dz/single:latest")).ok);
      await assert.rejects(
        rt.verifyContent("dz/single:latest", parseImageManifest(amd.manifest)),
        (e) => e instanceof VerificationError && /config hashes to/.test(e.message),
      );

      // podman's own failure reaches the caller as its one line.
      const broken = new CliRuntime("podman", {
        env: { CONTAINERS_STORAGE_CONF: join(dir, "no-such.conf") },
        extraArgs: ["--storage-driver", "no-such-driver"],
      });
      await assert.rejects(broken.check(), (e) => {
        assert.ok(e instanceof RuntimeError);
        assert.ok(!e.message.includes("\n"));
        assert.match(e.message, /^podman does not work here: stat .*no-such\.conf: no such file/);
        return true;
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
