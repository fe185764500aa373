import assert from "node:assert/strict";
import { join } from "node:path";
import { byteStreamFrom, intoReader, passThroughBytes, pipeBytes } from "./byte_stream.ts";
import { writeStreamAtomic } from "./atomic.ts";

function chunked(parts: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(p);
      c.close();
    },
  });
}

const data = Uint8Array.from({ length: 3 * 1024 * 1024 + 7 }, (_, i) => (i * 31 + 7) & 0xff);

Deno.test("byte stream: intoReader fills views from byte and plain streams alike", async () => {
  for (
    const s of [new Blob([data as BlobPart]).stream(), chunked([data.slice(0, 10), data.slice(10)])]
  ) {
    const r = intoReader(s);
    let buf: Uint8Array = new Uint8Array(4096);
    const out = new Uint8Array(data.length);
    let off = 0;
    for (;;) {
      const got = await r.read(buf);
      buf = new Uint8Array(got.value.buffer);
      if (got.done) break;
      out.set(got.value, off);
      off += got.value.byteLength;
    }
    assert.equal(off, data.length);
    assert.deepEqual(out, data);
  }
});

Deno.test("byte stream: an error at the end errors the stream and cancels the source", async () => {
  let cancelled: unknown;
  const src = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array([1, 2, 3]));
      c.close();
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const s = passThroughBytes(src, {
    onEnd() {
      throw new Error("wrong digest");
    },
  });
  await assert.rejects(new Response(s).arrayBuffer(), /wrong digest/);
  const failing = byteStreamFrom(() => Promise.reject(new Error("boom")), (r) => {
    cancelled = r;
    return Promise.resolve();
  });
  await assert.rejects(new Response(failing).arrayBuffer(), /boom/);
  assert.match(String(cancelled), /boom/);
});

Deno.test("byte stream: the atomic writer keeps exact bytes, and nothing when the end is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ok = join(dir, "ok");
    await writeStreamAtomic(ok, passThroughBytes(new Blob([data as BlobPart]).stream(), {}));
    assert.deepEqual(await Deno.readFile(ok), data);
    const bad = join(dir, "bad");
    const refused = passThroughBytes(new Blob([data as BlobPart]).stream(), {
      onEnd() {
        throw new Error("digest mismatch");
      },
    });
    await assert.rejects(writeStreamAtomic(bad, refused, { durable: false }), /digest mismatch/);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["ok"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("byte stream: pipeBytes delivers every byte in order; a source error aborts the sink", async () => {
  for (
    const s of [new Blob([data as BlobPart]).stream(), chunked([data.slice(0, 10), data.slice(10)])]
  ) {
    const got: Uint8Array[] = [];
    await pipeBytes(
      s,
      new WritableStream({ write: (c) => void got.push(c.slice()) }),
    );
    assert.deepEqual(new Uint8Array(await new Blob(got as BlobPart[]).arrayBuffer()), data);
  }
  let aborted: unknown;
  const broken = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(data.slice(0, 100));
      c.error(new Error("digest mismatch"));
    },
  });
  await assert.rejects(
    pipeBytes(broken, new WritableStream({ abort: (r) => void (aborted = r) })),
    /digest mismatch/,
  );
  assert.match(String(aborted), /digest mismatch/);
  let cancelled: unknown;
  const source = new ReadableStream<Uint8Array>({
    pull: (c) => c.enqueue(new Uint8Array(4096)),
    cancel: (r) => void (cancelled = r),
  });
  await assert.rejects(
    pipeBytes(source, new WritableStream({ write: () => Promise.reject(new Error("EPIPE")) })),
    /EPIPE/,
  );
  assert.match(String(cancelled), /EPIPE/);
});
