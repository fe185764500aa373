import assert from "node:assert/strict";
import { OciLayout } from "../oci/layout.ts";
import { referrersTag, RegistryClient } from "../registry/client.ts";
import { sha256Digest } from "../digest/digest.ts";
import { OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from "../oci/media_types.ts";
import { startRegistry } from "../../tests/helpers/registry.ts";
import { findBundles, type FoundBundle, isBundleMediaType, MAX_BUNDLE_BYTES } from "./discovery.ts";
import { LayoutSource, RegistrySource } from "./source.ts";

const enc = new TextEncoder();
const V03 = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SPDX = "application/spdx+json";
const EMPTY = enc.encode("{}");
const CONFIG = { mediaType: OCI_EMPTY, digest: sha256Digest(EMPTY), size: 2 };

interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
}

const desc = (mediaType: string, bytes: Uint8Array, artifactType?: string): Desc => ({
  mediaType,
  digest: sha256Digest(bytes),
  size: bytes.byteLength,
  ...(artifactType ? { artifactType } : {}),
});

function artifact(type: string, layer: Desc, subject: Desc): Uint8Array {
  return enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: type,
    config: CONFIG,
    layers: [layer],
    subject,
  }));
}

/** An image, and referrers of several kinds, as bytes. */
function fixture() {
  const imageLayer = enc.encode("layer");
  const image = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: CONFIG,
    layers: [desc("application/vnd.oci.image.layer.v1.tar", imageLayer)],
  }));
  const other = enc.encode(
    JSON.stringify({ ...JSON.parse(new TextDecoder().decode(image)), x: 1 }),
  );
  const subject = desc(OCI_MANIFEST, image);
  const bundle = enc.encode(JSON.stringify({ mediaType: V03, note: "a bundle" }));
  const sbom = enc.encode('{"spdxVersion":"SPDX-2.3"}');
  const huge = new Uint8Array(MAX_BUNDLE_BYTES + 1);
  const good = artifact(V03, desc(V03, bundle), subject);
  const sbomArt = artifact(SPDX, desc(SPDX, sbom), subject);
  const hugeArt = artifact(V03, desc(V03, huge), subject);
  const elsewhere = artifact(V03, desc(V03, bundle), desc(OCI_MANIFEST, other));
  return {
    imageLayer,
    image,
    other,
    subject,
    bundle,
    sbom,
    huge,
    good,
    sbomArt,
    hugeArt,
    elsewhere,
  };
}

function summary(found: FoundBundle[]) {
  return found.map((f) =>
    f.ok ? { ok: true, bundle: f.bundle } : { ok: false, msg: f.error.message }
  );
}

Deno.test("bundle media types: v0.3 in both spellings and older versions; nothing else", () => {
  for (
    const t of [
      V03,
      "application/vnd.dev.sigstore.bundle+json;version=0.3",
      "application/vnd.dev.sigstore.bundle+json; version=0.2",
      "application/vnd.dev.sigstore.bundle+json;version=0.1",
    ]
  ) assert.ok(isBundleMediaType(t), t);
  for (
    const t of [
      SPDX,
      "application/vnd.dev.sigstore.bundle+json",
      "application/vnd.dev.sigstore.bundle.v0.4+json",
      "application/vnd.in-toto+json",
      undefined,
    ]
  ) assert.ok(!isBundleMediaType(t), String(t));
});

Deno.test("findBundles (registry, fallback tag): other artifact types ignored, oversized and misattached refused", async () => {
  await using reg = await startRegistry();
  const client = new RegistryClient(reg.host);
  const source = new RegistrySource(client, "r/img", {});
  try {
    const f = fixture();
    const repo = "r/img";
    for (const b of [EMPTY, f.imageLayer, f.bundle, f.sbom, f.huge]) {
      await client.uploadBlob(repo, { digest: sha256Digest(b), size: b.byteLength }, b);
    }
    const image = await client.putManifest(repo, "latest", f.image, OCI_MANIFEST);
    assert.deepEqual(await findBundles(source, image), []);
    await client.putManifest(repo, "other", f.other, OCI_MANIFEST);
    for (const m of [f.good, f.sbomArt, f.hugeArt, f.elsewhere]) {
      await client.putManifest(repo, sha256Digest(m), m, OCI_MANIFEST);
    }
    // A bundle artifact the referrers index lists as an SBOM: filtered out unread.
    const hidden = enc.encode(JSON.stringify({ mediaType: V03, note: "listed as SBOM" }));
    await client.uploadBlob(repo, desc(V03, hidden), hidden);
    const hiddenArt = artifact(V03, desc(V03, hidden), f.subject);
    await client.putManifest(repo, sha256Digest(hiddenArt), hiddenArt, OCI_MANIFEST);
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        desc(OCI_MANIFEST, f.sbomArt, SPDX), // listed as an SBOM: not even fetched
        desc(OCI_MANIFEST, hiddenArt, SPDX), // a bundle, but listed as an SBOM
        desc(OCI_MANIFEST, f.sbomArt), // type only in the manifest: fetched, ignored
        desc(OCI_MANIFEST, f.good, V03),
        desc(OCI_MANIFEST, f.hugeArt, V03),
        desc(OCI_MANIFEST, f.elsewhere, V03),
      ],
    }));
    await client.putManifest(repo, referrersTag(image), index, OCI_INDEX);

    const found = await findBundles(source, image);
    const s = summary(found);
    assert.equal(s.length, 3, JSON.stringify(s));
    assert.deepEqual(s[0], { ok: true, bundle: { mediaType: V03, note: "a bundle" } });
    assert.equal(s[1].ok, false);
    assert.match(s[1].msg!, new RegExp(`${MAX_BUNDLE_BYTES + 1} bytes, more than`));
    assert.equal(s[2].ok, false);
    assert.match(s[2].msg!, /is attached to sha256:[0-9a-f]{64}, not sha256:/);
    assert.ok(found[0].ok && found[0].manifestDigest === sha256Digest(f.good));
  } finally {
    client.close();
  }
});

Deno.test("findBundles (registry): a bundle blob that does not match its digest is refused", async () => {
  await using reg = await startRegistry();
  const client = new RegistryClient(reg.host);
  const source = new RegistrySource(client, "r/img", {});
  try {
    const f = fixture();
    const repo = "r/img";
    for (const b of [EMPTY, f.imageLayer, f.bundle]) {
      await client.uploadBlob(repo, { digest: sha256Digest(b), size: b.byteLength }, b);
    }
    const image = await client.putManifest(repo, "latest", f.image, OCI_MANIFEST);
    await client.putManifest(repo, sha256Digest(f.good), f.good, OCI_MANIFEST);
    // Corrupt the stored bundle blob behind the registry's back.
    const hex = sha256Digest(f.bundle).slice(7);
    const path = `${reg.storageDir}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
    const bytes = await Deno.readFile(path);
    bytes[5] ^= 0x01;
    await Deno.writeFile(path, bytes);
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [desc(OCI_MANIFEST, f.good, V03)],
    }));
    await client.putManifest(repo, referrersTag(image), index, OCI_INDEX);
    const found = await findBundles(source, image);
    assert.equal(found.length, 1);
    assert.ok(!found[0].ok);
    assert.match(found[0].error.message, /content digest is sha256:/);
  } finally {
    client.close();
  }
});

Deno.test("findBundles (oci layout): index entries whose subject is the image", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundles_layout_" });
  try {
    const f = fixture();
    await Deno.mkdir(`${dir}/blobs/sha256`, { recursive: true });
    for (
      const b of [
        EMPTY,
        f.imageLayer,
        f.image,
        f.other,
        f.bundle,
        f.sbom,
        f.good,
        f.sbomArt,
        f.hugeArt,
        f.elsewhere,
      ]
    ) {
      await Deno.writeFile(`${dir}/blobs/sha256/${sha256Digest(b).slice(7)}`, b);
    }
    await Deno.writeTextFile(`${dir}/oci-layout`, '{"imageLayoutVersion":"1.0.0"}');
    await Deno.writeTextFile(
      `${dir}/index.json`,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          desc(OCI_MANIFEST, f.image),
          desc(OCI_MANIFEST, f.other),
          desc(OCI_MANIFEST, f.sbomArt, SPDX),
          desc(OCI_MANIFEST, f.elsewhere, V03), // another image's bundle: not this one's
          desc(OCI_MANIFEST, f.good, V03),
          desc(OCI_MANIFEST, f.hugeArt), // type read from the manifest
        ],
      }),
    );
    const source = new LayoutSource(await OciLayout.open(dir), {});
    const s = summary(await findBundles(source, sha256Digest(f.image)));
    assert.equal(s.length, 2, JSON.stringify(s));
    assert.deepEqual(s[0], { ok: true, bundle: { mediaType: V03, note: "a bundle" } });
    assert.equal(s[1].ok, false);
    assert.match(s[1].msg!, /more than/);
    // The other image's bundle is found for it, not for this one.
    const forOther = summary(await findBundles(source, sha256Digest(f.other)));
    assert.deepEqual(forOther, [{ ok: true, bundle: { mediaType: V03, note: "a bundle" } }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
