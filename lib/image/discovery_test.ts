import assert from "node:assert/strict";
import { OciLayout } from "../oci/layout.ts";
import { referrersTag, RegistryClient } from "../registry/client.ts";
import { sha256Digest } from "../digest/digest.ts";
import { OCI_EMPTY, OCI_INDEX, OCI_MANIFEST } from "../oci/media_types.ts";
import { startRegistry } from "../../tests/helpers/registry.ts";
import { startHostileRegistry } from "../../tests/helpers/hostile_server.ts";
import {
  dropUnusable,
  findAttestations,
  findBundles,
  findSignatures,
  type FoundBundle,
  isBundleMediaType,
  MAX_BUNDLE_BYTES,
  MAX_ENVELOPE_BYTES,
  MAX_PAYLOAD_BYTES,
  MAX_REFERRERS,
  requireWellFormed,
} from "./discovery.ts";
import { BUNDLE_REFERRERS } from "./bundles.ts";
import { cosignAttestationTag, cosignSignatureTag } from "../registry/client.ts";
import { VerificationError } from "../errors/errors.ts";
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

/** A registry holding the fixture image (tag `latest`) and `blobs` in `r/img`: run `fn`, then close. */
async function withRegistryImage(
  blobs: (f: ReturnType<typeof fixture>) => Uint8Array[],
  fn: (c: {
    storageDir: string;
    client: RegistryClient;
    source: RegistrySource;
    f: ReturnType<typeof fixture>;
    repo: string;
    image: string;
  }) => Promise<void>,
): Promise<void> {
  await using reg = await startRegistry();
  const client = new RegistryClient(reg.host);
  const repo = "r/img";
  try {
    const f = fixture();
    for (const b of [EMPTY, f.imageLayer, ...blobs(f)]) {
      await client.uploadBlob(repo, { digest: sha256Digest(b), size: b.byteLength }, b);
    }
    const image = await client.putManifest(repo, "latest", f.image, OCI_MANIFEST);
    const source = new RegistrySource(client, repo, {});
    await fn({ storageDir: reg.storageDir, client, source, f, repo, image });
  } finally {
    client.close();
  }
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

Deno.test("findBundles (registry, fallback tag): other artifact types ignored, oversized and misattached refused", () =>
  withRegistryImage(
    (f) => [f.bundle, f.sbom, f.huge],
    async ({ client, source, f, repo, image }) => {
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
    },
  ));

Deno.test("findBundles (registry): a bundle blob that does not match its digest is refused", () =>
  withRegistryImage((f) => [f.bundle], async ({ storageDir, client, source, f, repo, image }) => {
    await client.putManifest(repo, sha256Digest(f.good), f.good, OCI_MANIFEST);
    // Corrupt the stored bundle blob behind the registry's back.
    const hex = sha256Digest(f.bundle).slice(7);
    const path = `${storageDir}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`;
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
  }));

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

const SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json";
const SIG_ANNOTATION = "dev.cosignproject.cosign/signature";

/** A layout holding `image` and, under `tag`, a cosign manifest with `layers` (blobs `blobs`). */
async function cosignLayout(
  tag: (digest: string) => string,
  layers: unknown[] | Uint8Array,
  blobs: Uint8Array[],
) {
  const dir = await Deno.makeTempDir({ prefix: "discovery_layout_" });
  const layout = await OciLayout.openOrCreate(dir);
  const f = fixture();
  for (const b of [EMPTY, f.imageLayer, ...blobs]) await layout.writeBlobBytes(b);
  const image = await layout.writeBlobBytes(f.image);
  await layout.setRef("latest", { mediaType: OCI_MANIFEST, ...image });
  const manifest = layers instanceof Uint8Array ? layers : enc.encode(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: CONFIG, layers }),
  );
  const m = await layout.writeBlobBytes(manifest);
  await layout.setRef(tag(image.digest), { mediaType: OCI_MANIFEST, ...m });
  return {
    dir,
    digest: image.digest,
    source: new LayoutSource(layout, {}),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

const sigLayer = (payload: Uint8Array, signature = "MEUCIQ==", size = payload.byteLength) => ({
  mediaType: SIMPLE_SIGNING,
  digest: sha256Digest(payload),
  size,
  annotations: { [SIG_ANNOTATION]: signature },
});

Deno.test("findSignatures: one result, the caller's policy: lenient drops and counts, strict throws", async () => {
  const good = enc.encode('{"critical":{}}');
  const other = enc.encode('{"critical":{"x":1}}');
  const layers = [
    sigLayer(good),
    sigLayer(good), // identical: counted once
    sigLayer(other, "not base64!"), // malformed
    sigLayer(enc.encode("huge"), "MEUCIQ==", MAX_PAYLOAD_BYTES + 1), // over the cap, never fetched
  ];
  await using l = await cosignLayout(cosignSignatureTag, layers, [good, other]);
  const found = await findSignatures(l.source, l.digest);
  assert.deepEqual(
    found.map((f) => f.ok ? [f.origin, "ok"] : [f.origin, f.failed]),
    [["signature 1", "ok"], ["signature 2", "entry"], ["signature 3", "oversized"]],
  );
  assert.ok(
    found[0].ok && new TextDecoder().decode(found[0].signature.payload) === '{"critical":{}}',
  );
  const lenient = dropUnusable(found);
  assert.equal(lenient.usable.length, 1);
  assert.equal(lenient.dropped, 2);
  assert.throws(
    () => requireWellFormed(found),
    (e) =>
      e instanceof VerificationError && e.code === "SIGNATURE_MALFORMED" &&
      /signature 2 signature annotation/.test(e.message),
  );
  // Strict passes over the oversized layer only.
  assert.equal(requireWellFormed([found[0], found[2]]).length, 1);
  // No signature artifact at all: nothing found.
  assert.deepEqual(await findSignatures(l.source, sha256Digest(enc.encode("other"))), []);
});

Deno.test("findSignatures: a known payload (same sha256 and size) is not fetched again", async () => {
  const payload = enc.encode('{"critical":{"known":true}}');
  // The layout lacks the payload blob: only the known copy can serve it.
  await using l = await cosignLayout(cosignSignatureTag, [sigLayer(payload)], []);
  await assert.rejects(() => findSignatures(l.source, l.digest));
  const found = await findSignatures(l.source, l.digest, { knownPayloads: [payload] });
  assert.equal(found.length, 1);
  assert.ok(found[0].ok && found[0].signature.payload === payload);
  // A known payload the layer names with another size is not taken.
  await using m = await cosignLayout(cosignSignatureTag, [sigLayer(payload, "MEUCIQ==", 3)], []);
  await assert.rejects(() => findSignatures(m.source, m.digest, { knownPayloads: [payload] }));
});

Deno.test("findSignatures / findAttestations: an unreadable manifest is one failure of the whole", async () => {
  await using s = await cosignLayout(cosignSignatureTag, enc.encode("not json"), []);
  const sigs = await findSignatures(s.source, s.digest);
  assert.equal(sigs.length, 1);
  assert.ok(!sigs[0].ok && sigs[0].failed === "manifest");
  assert.throws(
    () => requireWellFormed(sigs),
    (e) =>
      e instanceof VerificationError &&
      /^oci:.*: the \.sig manifest of sha256:[0-9a-f]{12}… is not JSON$/.test(e.message),
  );
  assert.equal(dropUnusable(sigs).dropped, 1);
  await using a = await cosignLayout(cosignAttestationTag, enc.encode("not json"), []);
  const atts = await findAttestations(a.source, a.digest);
  assert.ok(atts.length === 1 && !atts[0].ok && atts[0].failed === "manifest");
  assert.equal(atts[0].error.code, "ATTESTATION_INVALID");
  assert.equal(atts[0].error.message, "the .att manifest is not JSON");
});

Deno.test("findAttestations: an envelope over the cap is a failure entry, never fetched", async () => {
  const layer = {
    mediaType: "application/vnd.dsse.envelope.v1+json",
    digest: sha256Digest(enc.encode("absent")),
    size: MAX_ENVELOPE_BYTES + 1,
    annotations: {},
  };
  await using l = await cosignLayout(cosignAttestationTag, [layer], []);
  const found = await findAttestations(l.source, l.digest);
  assert.equal(found.length, 1);
  assert.ok(!found[0].ok && found[0].failed === "oversized");
  assert.equal(found[0].error.message, ".att layer 1 is too large");
});

Deno.test("LayoutSource.referrers: index.json entries stop at the cap; a referrers index past it is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "discovery_refs_" });
  try {
    const layout = await OciLayout.openOrCreate(dir);
    const f = fixture();
    const image = await layout.writeBlobBytes(f.image);
    await layout.setRef("latest", { mediaType: OCI_MANIFEST, ...image });
    const refs = Array.from({ length: MAX_REFERRERS + 6 }, (_, i) => {
      const bytes = enc.encode(JSON.stringify({ n: i }));
      return { mediaType: OCI_MANIFEST, artifactType: V03, digest: sha256Digest(bytes), size: 8 };
    });
    for (const [i, d] of refs.entries()) await layout.setRef(`r${i}`, d);
    const source = new LayoutSource(layout, {});
    const listed = await source.referrers(image.digest, BUNDLE_REFERRERS);
    assert.equal(listed.mixed, true);
    assert.equal(listed.descriptors.length, MAX_REFERRERS);
    assert.ok(listed.descriptors.every((d) => d.digest !== image.digest));
    assert.equal(listed.descriptors[0].digest, refs[0].digest);
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: refs.slice(0, MAX_REFERRERS + 1),
    }));
    const tagged = await layout.writeBlobBytes(index);
    await layout.setRef(referrersTag(image.digest), { mediaType: OCI_INDEX, ...tagged });
    await assert.rejects(
      () => source.referrers(image.digest, BUNDLE_REFERRERS),
      /the referrers index sha256-[0-9a-f]{64} lists 65 distinct bundle referrers, more than the 64/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findSignatures / findAttestations (registry): one GET of the .sig / .att tag, a 404 is none", async () => {
  await using reg = startHostileRegistry((_req, url) =>
    url.pathname === "/v2/" ? new Response("{}") : undefined
  );
  const client = new RegistryClient(reg.host);
  try {
    const source = new RegistrySource(client, "r/img", {});
    const digest = sha256Digest(enc.encode("image"));
    assert.deepEqual(await findSignatures(source, digest), []);
    assert.deepEqual(await findAttestations(source, digest), []);
    const artifacts = reg.seen.filter((r) => /\/manifests\/sha256-/.test(r));
    assert.deepEqual(artifacts, [
      `GET /v2/r/img/manifests/${cosignSignatureTag(digest)}`,
      `GET /v2/r/img/manifests/${cosignAttestationTag(digest)}`,
    ]);
  } finally {
    client.close();
  }
});
