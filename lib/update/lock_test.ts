/** The lock file: mutual exclusion, stale locks broken, live locks time out. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { withLock } from "./lock.ts";

Deno.test("withLock: tasks never overlap; the lock is removed afterwards", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "lock");
    let inside = 0;
    let maxInside = 0;
    const task = () =>
      withLock(path, async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await new Promise((r) => setTimeout(r, 5));
        inside--;
      }, { pollMs: 1 });
    await Promise.all([task(), task(), task(), task()]);
    assert.equal(maxInside, 1);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("withLock: a live holder makes others time out; a dead one is broken", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "lock");
    const held = { pid: Deno.pid, host: Deno.hostname(), nonce: "live", created: 0 };
    await Deno.writeTextFile(path, JSON.stringify(held));
    await assert.rejects(
      withLock(path, () => Promise.resolve(1), { timeoutMs: 30, pollMs: 5 }),
      /held by another process/,
    );
    assert.equal(JSON.parse(await Deno.readTextFile(path)).nonce, "live");
    if (Deno.build.os === "linux") {
      await Deno.writeTextFile(path, JSON.stringify({ ...held, pid: 99999999, nonce: "dead" }));
      assert.equal(await withLock(path, () => Promise.resolve(7), { timeoutMs: 1000 }), 7);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
