import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ResumeStore } from "./resume_store.ts";

Deno.test("a partial holds exactly the appended bytes and resumes from them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dz-resume-store-" });
  try {
    const chunks = [1, 2, 3, 4, 5].map((n) => new Uint8Array(300 * 1024).fill(n));
    const all = new Uint8Array(chunks.reduce((a, c) => a + c.byteLength, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.byteLength;
    }
    const digest = `sha256:${createHash("sha256").update(all).digest("hex")}`;
    const store = new ResumeStore(join(dir, "partial"));
    const part = await store.open({ digest, size: all.byteLength });
    for (const c of chunks.slice(0, 3)) await part.append(c);
    part.close();
    assert.deepStrictEqual(await Deno.readFile(part.path), all.subarray(0, 3 * 300 * 1024));

    const again = await store.open({ digest, size: all.byteLength });
    assert.deepStrictEqual(again.resumedFrom, 3 * 300 * 1024);
    for (const c of chunks.slice(3)) await again.append(c);
    assert.deepStrictEqual(again.digest(), digest);
    again.close();
    assert.deepStrictEqual(await Deno.readFile(again.path), all);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
