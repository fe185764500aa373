import assert from "node:assert/strict";
import {
  backoffMs,
  DEFAULT_RETRY_POLICY,
  resolveRetryPolicy,
  type RetryPolicy,
  waitAfter,
} from "./retry.ts";
import { RegistryTransport } from "./transport.ts";

Deno.test("retry: the default policy is the documented one (4 retries, 250 ms doubling, Retry-After ≤ 30 s)", () => {
  assert.equal(DEFAULT_RETRY_POLICY.retries, 4);
  assert.equal(DEFAULT_RETRY_POLICY.baseMs, 250);
  assert.equal(DEFAULT_RETRY_POLICY.maxRetryAfterMs, 30_000);
  const p = resolveRetryPolicy();
  assert.equal(p.retries, 4);
  assert.equal(p.baseMs, 250);
  assert.equal(p.maxRetryAfterMs, 30_000);
  // Backoff doubles, with up to half of it as jitter.
  const low = { ...p, random: () => 0 };
  const high = { ...p, random: () => 0.999999 };
  assert.deepEqual([0, 1, 2, 3].map((n) => backoffMs(low, n)), [250, 500, 1000, 2000]);
  assert.deepEqual([0, 1, 2, 3].map((n) => backoffMs(high, n)), [374, 749, 1499, 2999]);
  // Retry-After is honoured up to the cap, and is not a backoff step.
  const res = (v: string) => new Response(null, { status: 503, headers: { "retry-after": v } });
  assert.deepEqual(waitAfter(low, res("3"), 2), { ms: 3000, backoff: false });
  assert.deepEqual(waitAfter(low, res("45"), 0), { ms: 30_000, backoff: false });
  assert.deepEqual(waitAfter(low, undefined, 1), { ms: 500, backoff: true });
});

Deno.test("retry: flat options and a partial policy override the defaults", () => {
  const sleep = () => Promise.resolve();
  const p = resolveRetryPolicy({ retries: 1, retry: { baseMs: 5, retries: 9, sleep } });
  assert.equal(p.retries, 1, "the flat name wins");
  assert.equal(p.baseMs, 5);
  assert.equal(p.maxRetryAfterMs, 30_000);
  assert.equal(p.sleep, sleep);
});

Deno.test({
  name: "retry: the transport runs the default policy's waits through the injected sleep",
  sanitizeResources: false,
  async fn() {
    let hits = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
      hits++;
      return hits === 2
        ? new Response("busy", { status: 429, headers: { "retry-after": "120" } })
        : new Response("down", { status: 503 });
    });
    try {
      const waits: number[] = [];
      const policy: Partial<RetryPolicy> = {
        sleep: (ms) => {
          waits.push(ms);
          return Promise.resolve();
        },
        random: () => 0,
      };
      const t = new RegistryTransport(`127.0.0.1:${server.addr.port}`, { retry: policy });
      const started = performance.now();
      await assert.rejects(() => t.ping(), /answered HTTP 503/);
      assert.ok(performance.now() - started < 5_000, "no real backoff was slept");
      assert.equal(hits, 5, "first attempt + 4 retries");
      // 503 → 250, 429 Retry-After 120 s → capped 30 s (no backoff step), then 500, 1000.
      assert.deepEqual(waits, [250, 30_000, 500, 1000]);
    } finally {
      await server.shutdown();
    }
  },
});
