import assert from "node:assert/strict";
import { join } from "node:path";
import { OciLayout } from "../oci/layout.ts";
import { LayoutSource } from "../image/source.ts";
import { sha256Digest } from "../digest/digest.ts";
import { DigestMismatchError } from "../errors/errors.ts";
import { stageImage } from "./stage.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** A source layout holding a one-layer image; returns its manifest. */
async function sourceImage(dir: string) {
  const layout = await OciLayout.openOrCreate(dir);
  const layer = enc("layer bytes ".repeat(1000));
  const config = enc(JSON.stringify({ architecture: "amd64", os: "linux" }));
  const l = await layout.writeBlobBytes(layer);
  const c = await layout.writeBlobBytes(config);
  const bytes = enc(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...c },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...l }],
  }));
  const manifest = {
    bytes,
    digest: sha256Digest(bytes),
    size: bytes.byteLength,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
  };
  return { layout, manifest, layer: l, config: c };
}

Deno.test("stage: a verified private source is hard-linked, any other is copied and checked", async () => {
  const root = await Deno.makeTempDir();
  try {
    const src = await sourceImage(join(root, "src"));
    for (const verifiedPrivate of [true, false]) {
      const dest = await OciLayout.openOrCreate(join(root, `dest-${verifiedPrivate}`));
      const source = new LayoutSource(src.layout, {}, undefined, { verifiedPrivate });
      const staged = await stageImage(source, src.manifest, dest, undefined, { durable: false });
      assert.equal(staged.descriptor.digest, src.manifest.digest);
      const a = await Deno.lstat(src.layout.blobPath(src.layer.digest));
      const b = await Deno.lstat(dest.blobPath(src.layer.digest));
      assert.equal(a.ino === b.ino, verifiedPrivate);
      assert.deepEqual(
        await dest.readBlobBytes(src.layer),
        await src.layout.readBlobBytes(src.layer),
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("stage: a blob of the wrong size is refused, linked or copied, and nothing is left", async () => {
  const root = await Deno.makeTempDir();
  try {
    const src = await sourceImage(join(root, "src"));
    // Tamper: the layer file gains a byte (a copy checks its digest too).
    await Deno.writeFile(src.layout.blobPath(src.layer.digest), enc("x"), { append: true });
    for (const verifiedPrivate of [true, false]) {
      const dest = await OciLayout.openOrCreate(join(root, `dest-${verifiedPrivate}`));
      const source = new LayoutSource(src.layout, {}, undefined, { verifiedPrivate });
      await assert.rejects(stageImage(source, src.manifest, dest), DigestMismatchError);
      assert.deepEqual([...Deno.readDirSync(join(dest.dir, "blobs", "sha256"))], []);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("stage: a copied blob with the right size but other bytes is refused", async () => {
  const root = await Deno.makeTempDir();
  try {
    const src = await sourceImage(join(root, "src"));
    const path = src.layout.blobPath(src.layer.digest);
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1] ^= 1;
    await Deno.writeFile(path, bytes);
    const dest = await OciLayout.openOrCreate(join(root, "dest"));
    await assert.rejects(
      stageImage(new LayoutSource(src.layout, {}), src.manifest, dest),
      DigestMismatchError,
    );
    assert.equal(await dest.hasBlob(src.layer.digest), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
