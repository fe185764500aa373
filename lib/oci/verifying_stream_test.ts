import assert from "node:assert/strict";
import { join } from "node:path";
import { OciLayout } from "./layout.ts";
import { DigestMismatchError } from "../errors/errors.ts";
import { isVerifyingStream, sha256Digest, verifyingStream } from "../digest/digest.ts";
import { writeStreamAtomic } from "../fs/atomic.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const streamOf = (b: Uint8Array) => new Blob([b as BlobPart]).stream();

Deno.test("writeBlob: a self-verifying stream of wrong bytes leaves nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const layout = await OciLayout.openOrCreate(dir);
    const good = bytes("the real layer");
    const d = { digest: sha256Digest(good), size: good.byteLength };
    // Same size, other bytes: the stream itself must refuse at its end.
    const evil = verifyingStream(streamOf(bytes("the evil layer")), d);
    assert.ok(isVerifyingStream(evil, d));
    await assert.rejects(layout.writeBlob(d, evil), DigestMismatchError);
    assert.equal(await layout.hasBlob(d.digest), false);
    assert.deepEqual([...Deno.readDirSync(join(dir, "blobs", "sha256"))], []);
    await layout.writeBlob(d, verifyingStream(streamOf(good), d));
    assert.deepEqual(await layout.readBlobBytes(d), good);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeBlob: a stream verified for another descriptor is checked again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const layout = await OciLayout.openOrCreate(dir);
    const a = bytes("blob a");
    const b = bytes("blob b, longer");
    const da = { digest: sha256Digest(a), size: a.byteLength };
    const db = { digest: sha256Digest(b), size: b.byteLength };
    const s = verifyingStream(streamOf(b), db);
    assert.equal(isVerifyingStream(s, da), false);
    assert.equal(isVerifyingStream(streamOf(a), da), false);
    // b's bytes, verified as b, offered as a: refused by the layout's own check.
    await assert.rejects(layout.writeBlob(da, s), DigestMismatchError);
    assert.equal(await layout.hasBlob(da.digest), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeStreamAtomic: many small and large chunks land intact; an error leaves nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const n = i % 7 === 0 ? 700_000 : 1 + (i * 7919) % 40_000;
      const p = new Uint8Array(n);
      for (let j = 0; j < n; j += 997) p[j] = (i + j) & 0xff;
      parts.push(p);
    }
    const all = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.byteLength;
    }
    const path = join(dir, "out");
    await writeStreamAtomic(path, ReadableStream.from(parts));
    assert.equal(sha256Digest(await Deno.readFile(path)), sha256Digest(all));

    const failing = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(100_000));
        c.error(new DigestMismatchError("bad bytes"));
      },
    });
    await assert.rejects(writeStreamAtomic(join(dir, "bad"), failing), DigestMismatchError);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
