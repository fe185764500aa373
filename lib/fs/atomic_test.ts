import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { writeStreamAtomic } from "./atomic.ts";

/** `count` chunks of `size` bytes, each filled with its index, as a stream and their sha256. */
function chunks(count: number, size: number): { stream: ReadableStream<Uint8Array>; hex: string } {
  const hash = createHash("sha256");
  for (let i = 0; i < count; i++) hash.update(new Uint8Array(size).fill(i));
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i === count) return c.close();
      c.enqueue(new Uint8Array(size).fill(i++));
    },
  });
  return { stream, hex: hash.digest("hex") };
}

async function fileHex(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const c of (await Deno.open(path)).readable) hash.update(c);
  return hash.digest("hex");
}

Deno.test("a durable stream of many chunks is written whole and in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dz-atomic-" });
  try {
    // 72 MiB in 1 MiB chunks, through the two write buffers.
    const { stream, hex } = chunks(72, 1024 * 1024);
    const path = join(dir, "big");
    await writeStreamAtomic(path, stream);
    assert.equal((await Deno.stat(path)).size, 72 * 1024 * 1024);
    assert.equal(await fileHex(path), hex);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["big"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stream that fails part-way leaves nothing at the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dz-atomic-" });
  try {
    let n = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (n++ === 40) return c.error(new Error("cut at 40 MiB"));
        c.enqueue(new Uint8Array(1024 * 1024).fill(n));
      },
    });
    await assert.rejects(writeStreamAtomic(join(dir, "cut"), stream), /cut at 40 MiB/);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
