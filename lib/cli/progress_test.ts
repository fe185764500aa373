import assert from "node:assert/strict";
import { createProgress, formatBytes, silentProgress } from "./progress.ts";

Deno.test("progress: plain mode prints a line per transfer start and end", () => {
  const out: string[] = [];
  const p = createProgress("plain", (s) => out.push(s), false);
  const t = p.start("blob sha256:ab", 2048);
  t.advance(1024);
  t.advance(1024);
  t.done();
  p.note("verifying");
  assert.deepEqual(out, [
    "blob sha256:ab: started (2.0 KiB)\n",
    "blob sha256:ab: done (2.0 KiB)\n",
    "verifying\n",
  ]);
});

Deno.test("progress: auto shows nothing off a terminal, a redrawn bar on one", () => {
  const off: string[] = [];
  assert.equal(createProgress("auto", (s) => off.push(s), false), silentProgress);
  const on: string[] = [];
  const t = createProgress("auto", (s) => on.push(s), true).start("layer", 100);
  t.advance(100);
  t.done();
  assert.match(on.at(-1)!, /layer 100% 100 B \/ 100 B done\n$/);
  assert.equal(createProgress("none", () => {}, true), silentProgress);
});

Deno.test("progress: byte formatting", () => {
  assert.equal(formatBytes(5), "5 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
});
