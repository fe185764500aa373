import assert from "node:assert/strict";
import { createProgress, fitWidth, formatBytes, formatDuration } from "./progress.ts";
import { silentProgress } from "../progress/progress.ts";

/** A fake clock the tests move by hand. */
function clock() {
  let t = 0;
  return { now: () => t, tick: (ms: number) => (t += ms) };
}

Deno.test("progress: plain mode prints a start, periodic lines with speed, and a summary", async () => {
  const out: string[] = [];
  const c = clock();
  const p = createProgress("plain", (s) => out.push(s), false, {
    now: c.now,
    plainIntervalMs: 20,
  });
  const t = p.start("fetch ab12", 2048);
  c.tick(1000);
  t.advance(1024);
  await new Promise((r) => setTimeout(r, 60));
  c.tick(1000);
  t.advance(1024);
  t.done();
  p.note("verifying");
  assert.equal(out[0], "fetch ab12 (2.0 KiB): started\n");
  assert.ok(
    out.some((l) => /^fetch: 50% 1\.0 KiB\/2\.0 KiB .*\/s .* left\n$/.test(l)),
    out.join(""),
  );
  assert.match(out.at(-2)!, /^fetch: done, 1 item, 2\.0 KiB in 2\.0 s, 1\.0 KiB\/s\n$/);
  assert.equal(out.at(-1), "verifying\n");
});

Deno.test("progress: auto off a terminal prints notes only; none prints nothing", () => {
  const off: string[] = [];
  const p = createProgress("auto", (s) => off.push(s), false);
  const t = p.start("fetch x", 100);
  t.advance(100);
  t.done();
  p.note("waiting for /d/lock held by pid 7");
  assert.deepEqual(off, ["waiting for /d/lock held by pid 7\n"]);
  assert.equal(createProgress("none", () => {}, true), silentProgress);
});

Deno.test("progress: auto on a terminal aggregates a phase on one line cut to the width", () => {
  for (const width of [20, 40, 80]) {
    const out: string[] = [];
    const c = clock();
    const p = createProgress("auto", (s) => out.push(s), true, {
      now: c.now,
      columns: () => width,
      redrawMs: 0,
      watchResize: false,
    });
    const a = p.start("fetch aaaaaaaaaaaa", 100 * 1024 * 1024);
    const b = p.start("fetch bbbbbbbbbbbb", 100 * 1024 * 1024);
    for (let i = 0; i < 10; i++) {
      c.tick(500);
      a.advance(5 * 1024 * 1024);
      b.advance(5 * 1024 * 1024);
    }
    p.note("a note");
    a.done();
    b.done();
    const text = out.join("");
    // Every redraw starts at column 0 and no drawn line reaches the last column.
    for (
      const piece of text.replace("a note\n", "").split("\r\x1b[2K").flatMap((x) => x.split("\n"))
    ) {
      assert.ok([...piece].length < width, `${width}: '${piece}' is ${[...piece].length} wide`);
    }
    const last = out.filter((s) => s.includes("fetch 0/2")).at(-1)!;
    if (width >= 80) {
      assert.match(last, /fetch 0\/2 \[#+-+\] 50% 100\.0 MiB\/200\.0 MiB 2\d\.\d MiB\/s 5 s left/);
    }
    assert.ok(text.includes("\na note\n") || text.includes("a note\n"));
    if (width >= 80) {
      assert.match(text, /fetch: done, 2 items, 100\.0 MiB in 5\.0 s, 20\.0 MiB\/s\n$/);
    }
  }
});

Deno.test("progress: formatting helpers", () => {
  assert.equal(formatBytes(5), "5 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
  assert.equal(formatDuration(42.4), "42 s");
  assert.equal(formatDuration(185), "3 min 5 s");
  assert.equal(fitWidth("abcdef", 4), "abc…");
  assert.equal(fitWidth("abc", 4), "abc");
});
