import assert from "node:assert/strict";
import {
  type Digest,
  digestingByteStream,
  digestingStream,
  isDigest,
  parseDigest,
  sha256Digest,
} from "./digest.ts";
import { DigestMismatchError } from "../errors/errors.ts";

const data = new TextEncoder().encode("hello, blobs");
const good = sha256Digest(data);

async function drain(expected: { digest: string; size?: number }, bytes: Uint8Array[]) {
  const src = new ReadableStream<Uint8Array>({
    start(c) {
      for (const b of bytes) c.enqueue(b);
      c.close();
    },
  });
  const out: Uint8Array[] = [];
  for await (const chunk of src.pipeThrough(digestingStream(expected))) out.push(chunk);
  return out;
}

Deno.test("digest: matching bytes pass through", async () => {
  const out = await drain({ digest: good, size: data.length }, [data.slice(0, 3), data.slice(3)]);
  assert.equal(out.reduce((n, c) => n + c.length, 0), data.length);
});

Deno.test("digest: one wrong byte is an error at the end of the stream", async () => {
  const bad = data.slice();
  bad[4] ^= 1;
  await assert.rejects(drain({ digest: good, size: data.length }, [bad]), DigestMismatchError);
});

Deno.test("digest: short and long content are refused", async () => {
  await assert.rejects(drain({ digest: good, size: data.length }, [data.slice(1)]), /bytes where/);
  await assert.rejects(
    drain({ digest: good, size: data.length }, [data, new Uint8Array([1])]),
    /more than/,
  );
});

Deno.test("digest: syntax", () => {
  assert.equal(parseDigest(good), good);
  assert.throws(() => parseDigest("sha256:" + "g".repeat(64)));
  assert.throws(() => parseDigest("a".repeat(64)), /prefix/);
  assert.throws(() => parseDigest("sha512:" + "a".repeat(128)));
});

/** `digestingByteStream` read to its end by a BYOB reader into one small reused buffer. */
async function drainByob(expected: { digest: string; size?: number }, bytes: Uint8Array[]) {
  const src = new ReadableStream<Uint8Array>({
    start(c) {
      for (const b of bytes) c.enqueue(b);
      c.close();
    },
  });
  const reader = digestingByteStream(src, expected).getReader({ mode: "byob" });
  let buf: Uint8Array = new Uint8Array(5);
  const out: number[] = [];
  for (;;) {
    const { value, done } = await reader.read(buf);
    if (done) break;
    out.push(...value);
    buf = new Uint8Array(value.buffer);
  }
  return new Uint8Array(out);
}

Deno.test("digest byte stream: BYOB and default readers get the exact bytes", async () => {
  const parts = [data.slice(0, 3), data.slice(3)];
  assert.deepEqual(await drainByob({ digest: good, size: data.length }, parts), data);
  const s = digestingByteStream(new Blob([data as BlobPart]).stream(), { digest: good });
  assert.deepEqual(new Uint8Array(await new Response(s).arrayBuffer()), data);
});

Deno.test("digest byte stream: a wrong byte, short or long content is an error", async () => {
  const bad = data.slice();
  bad[data.length - 1] ^= 1;
  const d = { digest: good, size: data.length };
  await assert.rejects(drainByob(d, [bad]), DigestMismatchError);
  await assert.rejects(drainByob(d, [data.slice(1)]), /bytes where/);
  await assert.rejects(drainByob(d, [data, new Uint8Array([1])]), /more than/);
  const s = digestingByteStream(new Blob([bad as BlobPart]).stream(), { digest: good });
  await assert.rejects(new Response(s).arrayBuffer(), DigestMismatchError);
});

Deno.test("Digest is a checked type: parsed or computed, never a bare string", () => {
  const parsed: Digest = parseDigest(`sha256:${"a".repeat(64)}`);
  const computed: Digest = sha256Digest("x");
  const raw: unknown = JSON.parse(`"${parsed}"`);
  if (isDigest(raw)) {
    const checked: Digest = raw;
    assert.equal(checked, parsed);
  } else assert.fail("a valid digest is a Digest");
  // @ts-expect-error a string from a document is not a Digest until it is checked
  const unchecked: Digest = `sha256:${"b".repeat(64)}`;
  assert.equal(typeof unchecked, "string");
  assert.notEqual(parsed, computed);
});
