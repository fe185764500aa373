/**
 * The archive reader refuses every unsafe or inconsistent tar, leaving
 * nothing behind, and accepts the layouts Dangerzone and `cosign save`
 * produce. Malicious tars are made here with modern-tar's packer.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { packTar, type TarEntry } from "modern-tar";
import { buildImage } from "../../tests/helpers/image_build.ts";
import { sha256Digest } from "../digest/digest.ts";
import { OCI_INDEX } from "../oci/media_types.ts";
import { extractArchive, openArchive } from "./read.ts";
import { ArchiveError, classifyEntry, normalizeEntryName } from "./layout_tar.ts";
import { UsageError } from "../errors/errors.ts";
import { exitStatusOf } from "../cli/exit_codes.ts";

const enc = new TextEncoder();

function file(name: string, body: Uint8Array | string): TarEntry {
  const data = typeof body === "string" ? enc.encode(body) : body;
  return { header: { name, size: data.byteLength, type: "file" }, body: data };
}

/** A valid layout: one image (kind image) and a fake `sigs` artifact. */
async function validLayout(prefix = "") {
  const image = await buildImage({ files: { a: "content" } });
  const blobs: [string, Uint8Array][] = [
    [image.manifestDescriptor.digest, image.manifest],
    [image.configDescriptor.digest, image.config],
    [image.layers[0].descriptor.digest, image.layers[0].bytes],
  ];
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{
      ...image.manifestDescriptor,
      annotations: { kind: "dev.cosignproject.cosign/image" },
    }],
  };
  const entries: TarEntry[] = [
    file(`${prefix}oci-layout`, JSON.stringify({ imageLayoutVersion: "1.0.0" })),
    file(`${prefix}index.json`, JSON.stringify(index)),
    ...blobs.map(([d, b]) => file(`${prefix}blobs/sha256/${d.slice(7)}`, b)),
  ];
  return { image, index, entries, blobs };
}

async function tempTar(entries: TarEntry[]): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".tar" });
  await Deno.writeFile(path, await packTar(entries));
  return path;
}

/** Open through `openArchive` (as load-archive does): refused, and nothing left behind. */
async function assertRefused(
  entries: TarEntry[] | Uint8Array,
  pattern: RegExp,
  limits = {},
  /** A compressed file is a usage mistake (exit 2: decompress it first), not tampering. */
  usage = false,
) {
  const path = await Deno.makeTempFile({ suffix: ".tar" });
  const dataDir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(path, entries instanceof Uint8Array ? entries : await packTar(entries));
    await assert.rejects(openArchive(path, dataDir, { limits }), (e: unknown) => {
      if (usage) {
        assert.ok(e instanceof UsageError, `not a UsageError: ${e}`);
        assert.equal(exitStatusOf(e), 2);
      } else {
        assert.ok(e instanceof ArchiveError, `not an ArchiveError: ${e}`);
        assert.equal(exitStatusOf(e), 1);
      }
      assert.match(e.message, pattern);
      return true;
    });
    const left: string[] = [];
    for await (const x of Deno.readDir(join(dataDir, "tmp"))) left.push(x.name);
    assert.deepEqual(left, [], "the temporary layout is removed");
  } finally {
    await Deno.remove(path);
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("entry names: normalized, and unsafe ones refused", () => {
  assert.equal(normalizeEntryName("./index.json"), "index.json");
  assert.equal(normalizeEntryName("./"), "");
  assert.equal(normalizeEntryName("."), "");
  assert.equal(normalizeEntryName("./blobs/sha256/"), "blobs/sha256");
  for (const bad of ["/etc/passwd", "../x", "blobs/../../x", "a\\b", "blobs//sha256/x", "a/./b"]) {
    assert.throws(() => normalizeEntryName(bad), ArchiveError, bad);
  }
  assert.throws(() => classifyEntry("blobs/sha256/abc", "file"), /outside/);
  assert.throws(() => classifyEntry("blobs/sha512/" + "a".repeat(128), "file"), /outside/);
  assert.throws(() => classifyEntry("etc", "directory"), /directory outside/);
  assert.throws(() => classifyEntry("index.json", "symlink"), /symlink/);
});

Deno.test("a valid layout, cosign-save style, is accepted", async () => {
  const { entries, index, blobs } = await validLayout();
  const path = await tempTar(entries);
  const dir = await Deno.makeTempDir();
  try {
    const ex = await extractArchive(path, dir);
    assert.deepEqual(ex.index, index);
    assert.equal(ex.blobs.size, blobs.length);
    assert.equal(ex.dangerzoneManifest, false);
    for (const [d, b] of blobs) {
      assert.deepEqual(await Deno.readFile(join(dir, "blobs", "sha256", d.slice(7))), b);
    }
  } finally {
    await Deno.remove(path);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Dangerzone-style archive ('./' names, images-only index.json) is accepted", async () => {
  const { entries, index, image } = await validLayout("./");
  // dangerzone.json = the full index (with a sigs entry); index.json = images only.
  const sigPayload = enc.encode("{}");
  const sigManifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...d(sigPayload) },
    layers: [{ mediaType: "application/vnd.dev.cosign.simplesigning.v1+json", ...d(sigPayload) }],
  }));
  const full = {
    ...index,
    manifests: [...index.manifests, {
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      ...d(sigManifest),
      annotations: { kind: "dev.cosignproject.cosign/sigs" },
    }],
  };
  const path = await tempTar([
    { header: { name: "./", size: 0, type: "directory" } },
    { header: { name: "./blobs/", size: 0, type: "directory" } },
    { header: { name: "./blobs/sha256/", size: 0, type: "directory" } },
    ...entries,
    file(`./blobs/sha256/${sha256Digest(sigPayload).slice(7)}`, sigPayload),
    file(`./blobs/sha256/${sha256Digest(sigManifest).slice(7)}`, sigManifest),
    file("./dangerzone.json", JSON.stringify(full)),
  ]);
  const dir = await Deno.makeTempDir();
  try {
    const ex = await extractArchive(path, dir);
    assert.equal(ex.dangerzoneManifest, true);
    assert.equal(ex.index.manifests.length, 2);
    assert.equal(ex.index.manifests[0].digest, image.manifestDescriptor.digest);
    // The layout written for loading carries the full index.
    const written = JSON.parse(await Deno.readTextFile(join(dir, "index.json")));
    assert.equal(written.manifests[1].annotations.kind, "dev.cosignproject.cosign/sigs");
  } finally {
    await Deno.remove(path);
    await Deno.remove(dir, { recursive: true });
  }
});

function d(bytes: Uint8Array) {
  return { digest: sha256Digest(bytes), size: bytes.byteLength };
}

Deno.test("refused: absolute path", async () => {
  const { entries } = await validLayout();
  await assertRefused([...entries, file("/tmp/evil", "x")], /absolute/);
});

Deno.test("refused: '..' entries", async () => {
  const { entries } = await validLayout();
  await assertRefused([...entries, file("../evil", "x")], /'\.\.'/);
  await assertRefused([file("blobs/../../evil", "x"), ...entries], /'\.\.'/);
});

Deno.test("refused: symlink, hardlink, device and FIFO entries", async () => {
  const { entries, blobs } = await validLayout();
  const name = `blobs/sha256/${"0".repeat(64)}`;
  const target = `blobs/sha256/${blobs[0][0].slice(7)}`;
  await assertRefused(
    [{ header: { name, size: 0, type: "symlink", linkname: "/etc/passwd" } }, ...entries],
    /symlink/,
  );
  await assertRefused(
    [...entries, { header: { name, size: 0, type: "link", linkname: target } }],
    /link/,
  );
  await assertRefused(
    [...entries, { header: { name: "index.json", size: 0, type: "character-device" } }],
    /character-device/,
  );
  await assertRefused([{ header: { name: "oci-layout", size: 0, type: "fifo" } }], /fifo/);
});

Deno.test("refused: duplicate names, even with different content", async () => {
  const { entries, index } = await validLayout();
  const other = { ...index, manifests: [] };
  await assertRefused([...entries, file("index.json", JSON.stringify(other))], /twice/);
  await assertRefused([...entries, entries[2]], /twice/);
});

Deno.test("refused: names outside the layout", async () => {
  const { entries } = await validLayout();
  // docker-archive's manifest.json is read (bounded) and ignored; its other legacy files are not.
  await assertRefused([...entries, file("repositories", "{}")], /outside/);
  await assertRefused([...entries, file("blobs/sha256/short", "x")], /outside/);
  await assertRefused(
    [...entries, { header: { name: "blobs/other/", size: 0, type: "directory" } }],
    /directory outside/,
  );
});

Deno.test("refused: a blob whose content does not hash to its name", async () => {
  const { entries, blobs } = await validLayout();
  const flipped = blobs[2][1].slice();
  flipped[flipped.length - 1] ^= 1;
  await assertRefused(
    [...entries.slice(0, 4), file(`blobs/sha256/${blobs[2][0].slice(7)}`, flipped)],
    /does not hash to its name/,
  );
});

Deno.test("refused: index referencing a missing blob, sizes that lie", async () => {
  const { entries, index, image } = await validLayout();
  // The layer is missing.
  await assertRefused(entries.slice(0, 4), /lacks blob/);
  // The index says another size than the manifest has.
  const lying = {
    ...index,
    manifests: [{ ...index.manifests[0], size: index.manifests[0].size + 1 }],
  };
  await assertRefused(
    [entries[0], file("index.json", JSON.stringify(lying)), ...entries.slice(2)],
    /bytes, its descriptor says/,
  );
  // An index entry pointing at a digest the archive does not hold.
  const elsewhere = {
    ...index,
    manifests: [{ ...index.manifests[0], digest: `sha256:${"ab".repeat(32)}` }],
  };
  await assertRefused(
    [entries[0], file("index.json", JSON.stringify(elsewhere)), ...entries.slice(2)],
    /lacks manifest/,
  );
  // A tar header larger than the data that follows: a truncated archive.
  const tar = await packTar(entries);
  await assertRefused(tar.subarray(0, tar.byteLength - 2048), /not a valid tar/);
  assert.ok(image);
});

Deno.test("refused: index.json and dangerzone.json disagree", async () => {
  const { entries, index } = await validLayout();
  const other = {
    ...index,
    manifests: [{ ...index.manifests[0], annotations: { kind: "dev.cosignproject.cosign/sigs" } }],
  };
  await assertRefused([...entries, file("dangerzone.json", JSON.stringify(other))], /disagree/);
});

Deno.test("refused: too many entries, entries too large", async () => {
  const { entries } = await validLayout();
  const many: TarEntry[] = [...entries];
  for (let i = 0; i < 10_001; i++) {
    const b = enc.encode(String(i));
    many.push(file(`blobs/sha256/${sha256Digest(b).slice(7)}`, b));
  }
  await assertRefused(many, /more than 10000 entries/);
  await assertRefused(entries, /exceeds the size limits/, { maxBlobBytes: 16 });
  await assertRefused(entries, /larger than/, { maxJsonBytes: 8 });
});

Deno.test("openArchive's sweep removes extraction dirs of dead processes only", async () => {
  const { sweepAbandonedExtractions } = await import("./sweep.ts");
  const parent = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${parent}/archive-999999999-abc`); // no such pid
    await Deno.mkdir(`${parent}/archive-${Deno.pid}-mine`); // ours, in use
    await Deno.mkdir(`${parent}/archive-1-init`); // pid 1 is alive
    await Deno.mkdir(`${parent}/unrelated`);
    const removed = await sweepAbandonedExtractions(parent);
    const left = [...Deno.readDirSync(parent)].map((e) => e.name).sort();
    if (Deno.build.os === "linux") {
      assert.deepEqual(removed, ["archive-999999999-abc"]);
      assert.deepEqual(left, [`archive-${Deno.pid}-mine`, "archive-1-init", "unrelated"].sort());
    }
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

/** A raw ustar header (512 bytes) whose size field uses GNU base-256 (for sizes over 8 GiB). */
function rawHeader(name: string, size: bigint, typeflag = "0"): Uint8Array {
  const h = new Uint8Array(512);
  h.set(enc.encode(name), 0);
  h.set(enc.encode("0000644\0"), 100);
  h.set(enc.encode("0000000\0"), 108);
  h.set(enc.encode("0000000\0"), 116);
  // size: 0x80 marker, then big-endian binary in the remaining 11 bytes
  h[124] = 0x80;
  let v = size;
  for (let i = 135; i > 124; i--) {
    h[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  h.set(enc.encode("00000000000\0"), 136);
  h.set(enc.encode(typeflag), 156);
  h.set(enc.encode("ustar\0"), 257);
  h.set(enc.encode("00"), 263);
  h.fill(0x20, 148, 156); // checksum computed over spaces
  let sum = 0;
  for (const b of h) sum += b;
  h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return h;
}

Deno.test("refused: a 10 GiB (sparse) entry, with nothing left behind", async () => {
  const { entries } = await validLayout();
  const head = await packTar(entries.slice(0, 2)); // oci-layout, index.json (+ end blocks)
  const body = head.slice(0, head.length - 1024); // drop the end-of-archive blocks
  const huge = rawHeader(`blobs/sha256/${"a".repeat(64)}`, 10n * 1024n ** 3n);
  const tail = new Uint8Array(4096); // the 10 GiB are not there: a sparse / lying entry
  const tar = new Uint8Array(body.length + huge.length + tail.length);
  tar.set(body);
  tar.set(huge, body.length);
  tar.set(tail, body.length + huge.length);
  await assertRefused(tar, /truncated|larger than|too large|size/i);
  // The same with the zeros really there (64 MiB here): hashed as they are unpacked, and
  // refused (the temporary file removed, never named) because they do not hash to the name.
  const zeros = new Uint8Array(64 * 1024 * 1024);
  await assertRefused(
    [...entries.slice(0, 2), file(`blobs/sha256/${"b".repeat(64)}`, zeros)],
    /does not hash to its name/,
  );
});

Deno.test("refused: a valid blob that nothing refers to", async () => {
  const { entries } = await validLayout();
  const junk = enc.encode("junk riding along");
  const { sha256Digest } = await import("../digest/digest.ts");
  await assertRefused(
    [...entries, file(`blobs/sha256/${sha256Digest(junk).slice(7)}`, junk)],
    /nothing refers to/,
  );
});

Deno.test("refused: a compressed archive disguised as .tar (gzip, zstd magic)", async () => {
  const { entries } = await validLayout();
  const plain = await packTar(entries);
  const gz = new Uint8Array(
    await new Response(new Blob([plain]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  await assertRefused(gz, /compressed|gzip/i, {}, true);
  const zstdLike = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, ...plain.slice(4, 4096)]);
  await assertRefused(zstdLike, /compressed|zstd/i, {}, true);
});

/** Sizes around the 1 MiB read chunk and the 512-byte tar block, then random ones. */
function awkwardSizes(seedValue: number): number[] {
  let seed = seedValue;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  const fixed = [0, 1, 511, 512, 513, 65_535, 1_048_575, 1_048_576, 1_048_577, 2_500_001, 7, 3];
  // 40 random sizes up to 300 KiB: tar headers land at random offsets of the read chunks.
  return seedValue === 7 ? fixed : Array.from({ length: 40 }, () => next() % 300_000);
}

for (const seedValue of [7, 1, 2, 3, 4]) {
  Deno.test(`accepted: blobs of awkward sizes across read-chunk boundaries unpack exactly (seed ${seedValue})`, async () => {
    const { sha256Digest } = await import("../digest/digest.ts");
    const sizes = awkwardSizes(seedValue);
    let seed = seedValue;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) & 0xff;
    const layers = sizes.map((n) => Uint8Array.from({ length: n }, rand));
    const config = enc.encode(JSON.stringify({ rootfs: { type: "layers", diff_ids: [] } }));
    const desc = (mediaType: string, b: Uint8Array) => ({
      mediaType,
      digest: sha256Digest(b),
      size: b.byteLength,
    });
    const manifest = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: desc("application/vnd.oci.image.config.v1+json", config),
      layers: layers.map((l) => desc("application/vnd.oci.image.layer.v1.tar", l)),
    }));
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{
        ...desc("application/vnd.oci.image.manifest.v1+json", manifest),
        annotations: { kind: "dev.cosignproject.cosign/image" },
      }],
    };
    const unique = new Map<string, Uint8Array>();
    for (const b of [manifest, config, ...layers]) unique.set(sha256Digest(b), b);
    const path = await tempTar([
      file("oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" })),
      file("index.json", JSON.stringify(index)),
      ...[...unique].map(([d, b]) => file(`blobs/sha256/${d.slice(7)}`, b)),
    ]);
    const dir = await Deno.makeTempDir();
    try {
      const ex = await extractArchive(path, dir);
      assert.equal(ex.blobs.size, unique.size);
      for (const [d, b] of unique) {
        assert.deepEqual(await Deno.readFile(join(dir, "blobs/sha256", d.slice(7))), b, d);
      }
    } finally {
      await Deno.remove(path);
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("refused (exit 1, not a stack overflow): 1M-deep JSON in index.json, dangerzone.json, oci-layout, a manifest", async () => {
  const deep = "[".repeat(1_000_000) + "]".repeat(1_000_000);
  const deepObj = '{"a":'.repeat(500_000) + "1" + "}".repeat(500_000);
  const same = `{"schemaVersion":2,"manifests":[],"annotations":${deep}}`;
  // Both documents equally deep: the reader used to recurse comparing them.
  await assertRefused([
    file("oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" })),
    file("index.json", same),
    file("dangerzone.json", same),
  ], /nest/);
  await assertRefused([
    file("oci-layout", `{"imageLayoutVersion":"1.0.0","x":${deepObj}}`),
    file("index.json", `{"schemaVersion":2,"manifests":[]}`),
  ], /nest/);
  // A manifest blob (referenced by the index) nested 1M deep.
  const { entries, index } = await validLayout();
  const manifest = enc.encode(`{"schemaVersion":2,"config":${deep},"layers":[]}`);
  const desc = {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: sha256Digest(manifest),
    size: manifest.byteLength,
    annotations: { kind: "dev.cosignproject.cosign/sigs" },
  };
  const full = { ...index, manifests: [...index.manifests, desc] };
  await assertRefused([
    ...entries.filter((e) => e.header.name !== "index.json"),
    file("index.json", JSON.stringify(full)),
    file(`blobs/sha256/${desc.digest.slice(7)}`, manifest),
  ], /nest/);
});

Deno.test("refused after its blobs were unpacked (an unreferenced blob): nothing stays in the directory", async () => {
  const { entries } = await validLayout();
  const stray = enc.encode("stray blob");
  const { sha256Digest } = await import("../digest/digest.ts");
  const path = await tempTar([
    ...entries,
    file(`blobs/sha256/${sha256Digest(stray).slice(7)}`, stray),
  ]);
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(extractArchive(path, dir), /nothing refers to/);
    const left: string[] = [];
    for await (const x of Deno.readDir(dir)) left.push(x.name);
    assert.deepEqual(left, [], "every unpacked blob is removed again");
    // The same archive without the stray blob unpacks, every blob under its digest.
    const good = await tempTar(entries);
    try {
      const ex = await extractArchive(good, dir);
      assert.equal(ex.blobs.size, 3);
      for (const d of ex.blobs.keys()) {
        assert.ok((await Deno.lstat(join(dir, "blobs", "sha256", d.slice(7)))).isFile);
      }
    } finally {
      await Deno.remove(good);
    }
  } finally {
    await Deno.remove(path);
    await Deno.remove(dir, { recursive: true });
  }
});
