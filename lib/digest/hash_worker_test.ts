import assert from "node:assert/strict";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { closeHashWorker, hashFile } from "./hash_worker.ts";

function sha(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

Deno.test("hashFile: digest and size of files hashed at once (worker and main thread)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files: { path: string; bytes: Uint8Array }[] = [];
    for (const size of [0, 1, 1024 * 1024, 3 * 1024 * 1024 + 7]) {
      const bytes = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
      const path = join(dir, `f${size}`);
      await Deno.writeFile(path, bytes);
      files.push({ path, bytes });
    }
    const got = await Promise.all(files.map((f) => hashFile(f.path)));
    assert.deepEqual(got, files.map((f) => ({ digest: sha(f.bytes), size: f.bytes.byteLength })));
  } finally {
    closeHashWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashFile: stops after limit + 1 bytes and says so", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "big");
    await Deno.writeFile(path, new Uint8Array(5 * 1024 * 1024));
    const got = await hashFile(path, 1024 * 1024);
    assert.ok(got.size > 1024 * 1024);
    assert.ok(got.size < 5 * 1024 * 1024);
  } finally {
    closeHashWorker();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashFile: a missing file is the file's own error", async () => {
  await assert.rejects(() => hashFile("/nonexistent/dz-hash-worker"), Deno.errors.NotFound);
  closeHashWorker();
});
