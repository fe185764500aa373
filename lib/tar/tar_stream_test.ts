import assert from "node:assert/strict";
import { createTarDecoder, packTar } from "modern-tar";
import { tarHeader, type TarPart, tarStream } from "./tar_stream.ts";

const MTIME = new Date(0);

async function decode(stream: ReadableStream<Uint8Array>) {
  const out: { name: string; type?: string; size: number; bytes: Uint8Array }[] = [];
  for await (const { header, body } of stream.pipeThrough(createTarDecoder({ strict: true }))) {
    out.push({
      name: header.name,
      type: header.type,
      size: header.size,
      bytes: new Uint8Array(await new Response(body).arrayBuffer()),
    });
  }
  return out;
}

function pseudoRandom(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
}

Deno.test("tar stream: headers are the bytes modern-tar writes", async () => {
  const body = new TextEncoder().encode("hello");
  const ref = await packTar([
    { header: { name: "blobs/", type: "directory", size: 0, mode: 0o755, mtime: MTIME } },
    {
      header: { name: "blobs/sha256/" + "a".repeat(64), size: 5, mode: 0o644, mtime: MTIME },
      body,
    },
  ]);
  assert.deepEqual(tarHeader("blobs/", 0, "directory", 0o755, MTIME), ref.subarray(0, 512));
  assert.deepEqual(
    tarHeader("blobs/sha256/" + "a".repeat(64), 5, "file", 0o644, MTIME),
    ref.subarray(512, 1024),
  );
});

Deno.test("tar stream: round trip through the strict decoder, BYOB and default readers", async () => {
  const big = pseudoRandom(3 * 1024 * 1024 + 17);
  const parts = (): TarPart[] => [
    { kind: "bytes", name: "oci-layout", bytes: new TextEncoder().encode("{}"), mtime: MTIME },
    { kind: "dir", name: "blobs/", mtime: MTIME },
    {
      kind: "stream",
      name: "blobs/sha256/x",
      size: big.byteLength,
      mtime: MTIME,
      // a byte stream (BYOB forwarding) and a plain one (copied)
      open: () => Promise.resolve(new Blob([big as BlobPart]).stream()),
    },
    {
      kind: "stream",
      name: "blobs/sha256/y",
      size: 3,
      mtime: MTIME,
      open: () =>
        Promise.resolve(
          new ReadableStream({
            start(c) {
              c.enqueue(new Uint8Array([1]));
              c.enqueue(new Uint8Array([2, 3]));
              c.close();
            },
          }),
        ),
    },
  ];
  // default reader
  const a = await decode(tarStream(parts()));
  // BYOB reader with an odd buffer size, gathered into one file-like buffer
  const reader = tarStream(parts()).getReader({ mode: "byob" });
  const chunks: Uint8Array[] = [];
  let buf: Uint8Array = new Uint8Array(100_003);
  for (;;) {
    const { value, done } = await reader.read(buf);
    if (done) break;
    chunks.push(value.slice());
    buf = new Uint8Array(value.buffer);
  }
  const b = await decode(new Blob(chunks as BlobPart[]).stream());
  for (const got of [a, b]) {
    assert.deepEqual(got.map((e) => [e.name, e.size]), [
      ["oci-layout", 2],
      ["blobs/", 0],
      ["blobs/sha256/x", big.byteLength],
      ["blobs/sha256/y", 3],
    ]);
    assert.deepEqual(got[2].bytes, big);
    assert.deepEqual(got[3].bytes, new Uint8Array([1, 2, 3]));
  }
});

Deno.test("tar stream: a member shorter or longer than its size errors the archive", async () => {
  for (const size of [4, 2]) {
    const s = tarStream([{
      kind: "stream",
      name: "f",
      size,
      mtime: MTIME,
      open: () => Promise.resolve(new Blob([new Uint8Array(3)]).stream()),
    }]);
    await assert.rejects(new Response(s).arrayBuffer(), RangeError);
  }
});

Deno.test("tar stream: a member's error errors the archive", async () => {
  const s = tarStream([{
    kind: "stream",
    name: "f",
    size: 3,
    mtime: MTIME,
    open: () =>
      Promise.resolve(
        new ReadableStream({
          pull(c) {
            c.error(new Error("digest mismatch"));
          },
        }),
      ),
  }]);
  await assert.rejects(new Response(s).arrayBuffer(), /digest mismatch/);
});

Deno.test("tar stream: sizes of 8 GiB and more get a pax size record the decoder reads", async () => {
  const size = 9 * 1024 ** 3 + 5;
  const header = tarHeader("blobs/sha256/big", size, "file", 0o644, MTIME);
  const reader = new Blob([header as BlobPart]).stream()
    .pipeThrough(createTarDecoder()).getReader();
  const { value } = await reader.read();
  assert.equal(value!.header.name, "blobs/sha256/big");
  assert.equal(value!.header.size, size);
  await reader.cancel();
});
