import assert from "node:assert/strict";
import { join } from "node:path";
import { OciLayout } from "./layout.ts";
import { buildImage } from "../../tests/helpers/image_build.ts";
import { DigestMismatchError } from "../errors/errors.ts";
import { sha256Digest } from "../digest/digest.ts";

async function storeImage(layout: OciLayout, files: Record<string, string>, name: string) {
  const img = await buildImage({ files });
  await layout.writeBlobBytes(img.config);
  for (const l of img.layers) await layout.writeBlobBytes(l.bytes);
  await layout.writeBlobBytes(img.manifest);
  await layout.setRef(name, img.manifestDescriptor);
  return img;
}

Deno.test("oci layout: store, name, resolve, share blobs; skopeo reads it", async () => {
  const dir = await Deno.makeTempDir();
  const layout = await OciLayout.openOrCreate(join(dir, "store"));
  const a = await storeImage(layout, { "x": "1" }, "example.org/app:v1");
  const b = await storeImage(layout, { "x": "1" }, "example.org/app:v2"); // same content
  assert.equal(a.manifestDescriptor.digest, b.manifestDescriptor.digest);
  assert.equal((await layout.index()).manifests.length, 2);
  assert.equal((await layout.resolve({ tag: "v1" })).digest, a.manifestDescriptor.digest);
  assert.equal(
    (await layout.resolve({ tag: "example.org/app:v2" })).digest,
    b.manifestDescriptor.digest,
  );
  assert.equal(
    (await layout.resolve({ digest: a.configDescriptor.digest })).digest,
    a.configDescriptor.digest,
  );
  await assert.rejects(layout.resolve(), /holds 2 images/);
  const out = await new Deno.Command("skopeo", {
    args: ["inspect", `oci:${join(dir, "store")}:example.org/app:v1`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.equal(
    JSON.parse(new TextDecoder().decode(out.stdout)).Digest,
    a.manifestDescriptor.digest,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("oci layout: a tampered blob is refused when read", async () => {
  const dir = await Deno.makeTempDir();
  const layout = await OciLayout.openOrCreate(dir);
  const img = await storeImage(layout, { "y": "hello" }, "v1");
  const layer = img.layers[0].descriptor;
  const path = layout.blobPath(layer.digest);
  const bytes = await Deno.readFile(path);
  bytes[10] ^= 1;
  await Deno.writeFile(path, bytes);
  await assert.rejects(
    async () => await new Response(await layout.readBlob(layer)).arrayBuffer(),
    DigestMismatchError,
  );
  await assert.rejects(layout.readBlobBytes(layer), DigestMismatchError);
  // A blob written with the wrong content never appears.
  const data = new TextEncoder().encode("content");
  const wrong = { digest: sha256Digest("other"), size: data.length };
  await assert.rejects(
    layout.writeBlob(wrong, new Blob([data]).stream()),
    DigestMismatchError,
  );
  assert.equal(await layout.hasBlob(wrong.digest), false);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("oci layout: symlinked blobs and malformed index entries are refused", async () => {
  const dir = await Deno.makeTempDir();
  const layout = await OciLayout.openOrCreate(dir);
  const secret = join(dir, "secret");
  await Deno.writeTextFile(secret, "s");
  const d = sha256Digest("s");
  await Deno.symlink(secret, layout.blobPath(d));
  await assert.rejects(layout.readBlob({ digest: d, size: 1 }), /not a regular file/);
  await Deno.writeTextFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "x", digest: "sha256:../../etc", size: 1 }],
    }),
  );
  await assert.rejects(layout.index(), /sha256/);
  await assert.rejects(OciLayout.open(join(dir, "nope")), /not an OCI image layout/);
  await Deno.remove(dir, { recursive: true });
});
