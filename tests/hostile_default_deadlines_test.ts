/**
 * The default deadlines, end to end: `upgrade` (a child process, default
 * settings) against a server that accepts and never answers and a token
 * service that drips its reply gives up after the 30 s header timeout and
 * on the minimum rate averaged over 30 s. Its own file, so its half-minute
 * of waiting overlaps the other test files.
 */
import assert from "node:assert/strict";
import { drippedBody, startSilentServer } from "./helpers/hostile_server.ts";
import { assertRefused, bearerRegistry, upgrade } from "./helpers/hostile_upgrade.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  ...opts,
  name:
    "hostile registry: with default deadlines, a silent server and a dripped token end in ~30 s",
  async fn() {
    await using silent = startSilentServer();
    await using reg = bearerRegistry(() =>
      new Response(drippedBody(`{"token":"${"x".repeat(1000)}"}`, 1000))
    );
    const [a, b] = await Promise.all([upgrade(silent.host), upgrade(reg.host)]);
    await assertRefused(a, silent.host, { seconds: 45, match: /sent no answer .* in 30 s/ });
    await assertRefused(b, reg.host, { seconds: 45, match: /token reply.*under the minimum/ });
    assert.equal(silent.accepted, 1, "the silent request is not retried");
  },
});
