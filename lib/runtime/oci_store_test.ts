/**
 * The embedded `oci:DIR` store: images from any source land under their
 * full name, skopeo reads them, blobs are shared, and a blob that does not
 * match its digest leaves the store as it was.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildImage, type BuiltImage } from "../../tests/helpers/image_build.ts";
import { OciLayout } from "../oci/layout.ts";
import { LayoutSource } from "../image/source.ts";
import { OciStoreRuntime } from "./oci_store.ts";
import { selectRuntime } from "./select.ts";
import { CliRuntime } from "./cli_runtime.ts";
import { parseImageManifest } from "../oci/manifest.ts";

async function layoutWith(dir: string, images: BuiltImage[]): Promise<OciLayout> {
  const l = await OciLayout.openOrCreate(dir);
  for (const img of images) {
    await l.writeBlobBytes(img.config);
    for (const layer of img.layers) await l.writeBlobBytes(layer.bytes);
    await l.writeBlobBytes(img.manifest);
  }
  return l;
}

function manifestOf(img: BuiltImage) {
  return {
    bytes: img.manifest,
    digest: img.manifestDescriptor.digest,
    size: img.manifest.byteLength,
    mediaType: img.manifestDescriptor.mediaType,
  };
}

Deno.test("oci store: install, skopeo reads it by full name, blobs shared", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await buildImage({ files: { shared: "same" } });
    const b = await buildImage({ files: { shared: "same" }, labels: { v: "2" } });
    assert.equal(a.layers[0].descriptor.digest, b.layers[0].descriptor.digest);
    const src = new LayoutSource(await layoutWith(join(dir, "src"), [a, b]), {});
    const rt = new OciStoreRuntime(join(dir, "store"));
    const nameA = "registry.example:5000/x/y:latest";
    const got = await rt.install(src, manifestOf(a), [nameA, "registry.example:5000/x/y:v1"]);
    assert.equal(got.imageId, a.configDescriptor.digest);
    await rt.install(src, manifestOf(b), ["registry.example:5000/x/z:latest"]);
    assert.equal((await rt.inspect(nameA))?.manifestDigest, a.manifestDescriptor.digest);
    assert.equal(await rt.inspect("nope:latest"), undefined);
    const blobs = await Array.fromAsync(Deno.readDir(join(dir, "store", "blobs", "sha256")));
    assert.equal(blobs.length, 5); // 1 shared layer + 2 configs + 2 manifests
    const out = await new Deno.Command("skopeo", {
      args: ["inspect", `oci:${join(dir, "store")}:${nameA}`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    assert.equal(
      JSON.parse(new TextDecoder().decode(out.stdout)).Digest,
      a.manifestDescriptor.digest,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("oci store: a blob that does not match its digest installs nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await buildImage({ files: { f: "x".repeat(1000) } });
    const srcLayout = await layoutWith(join(dir, "src"), [a]);
    const layerPath = srcLayout.blobPath(a.layers[0].descriptor.digest);
    const bytes = await Deno.readFile(layerPath);
    bytes[10] ^= 1;
    await Deno.writeFile(layerPath, bytes);
    const rt = new OciStoreRuntime(join(dir, "store"));
    await assert.rejects(
      rt.install(new LayoutSource(srcLayout, {}), manifestOf(a), ["r.example/a:latest"]),
      /blob/,
    );
    assert.equal(await rt.inspect("r.example/a:latest"), undefined);
    const blobs = await Array.fromAsync(Deno.readDir(join(dir, "store", "blobs", "sha256")));
    assert.deepEqual(blobs, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("selectRuntime: explicit specs, defaults by PATH, bad spec", () => {
  assert.equal(selectRuntime("oci:/x/y", "/d").name, "oci:/x/y");
  assert.ok(selectRuntime("podman", "/d") instanceof CliRuntime);
  assert.equal(selectRuntime("docker", "/d").name, "docker");
  assert.equal(selectRuntime(undefined, "/d", { isOnPath: () => true }).name, "podman");
  assert.equal(
    selectRuntime(undefined, "/d", { isOnPath: (b) => b === "docker" }).name,
    "docker",
  );
  assert.equal(selectRuntime(undefined, "/d", { isOnPath: () => false }).name, "oci:/d/images");
  assert.throws(() => selectRuntime("lxc", "/d"), /podman, docker or oci:DIR/);
  assert.throws(() => selectRuntime("oci:", "/d"), /needs a directory/);
});

Deno.test("parseImageManifest: rejects indexes and malformed descriptors", () => {
  const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  assert.throws(() => parseImageManifest(enc({ schemaVersion: 2, manifests: [] })), /config/);
  assert.throws(
    () =>
      parseImageManifest(enc({
        schemaVersion: 2,
        config: { mediaType: "x", digest: "sha256:../../etc", size: 1 },
        layers: [],
      })),
    /digest/,
  );
  assert.throws(() => parseImageManifest(new TextEncoder().encode("nope")), /not JSON/);
});
