/**
 * Deadlines of the registry client with short, test-sized values (issue 22
 * item 3): a dripped token or manifest fails on the minimum rate, a layer
 * dripped a byte at a time fails on the rate window (not only the idle
 * guard), a silent server costs one header timeout (no retries), the
 * command budget bounds retries and Retry-After, and every failure names
 * the host. Also: an unparsable --proxy is never echoed with its password.
 */
import assert from "node:assert/strict";
import { RegistryClient } from "../lib/registry/client.ts";
import { sha256Digest } from "../lib/digest/digest.ts";
import { NetworkError, UsageError } from "../lib/errors/errors.ts";
import { isDeadline } from "../lib/registry/timing.ts";
import { drippedBody, startHostileRegistry, startSilentServer } from "./helpers/hostile_server.ts";
import { command as upgrade } from "../commands/upgrade.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const opts = { sanitizeResources: false, sanitizeOps: false };

async function timed<T>(p: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const start = performance.now();
  const error = await p.then(() => undefined, (e) => e);
  return { error, ms: performance.now() - start };
}

Deno.test({
  ...opts,
  name: "deadlines: a token reply dripped at 1 byte per 100 ms fails on the minimum rate",
  async fn() {
    let realm = "";
    await using reg = startHostileRegistry((req, url) => {
      if (url.pathname === "/token") return new Response(drippedBody('{"token":"abcdefgh"}', 100));
      if (!req.headers.get("authorization")) {
        return new Response("", {
          status: 401,
          headers: { "www-authenticate": `Bearer realm="${realm}"` },
        });
      }
      return new Response("{}");
    });
    realm = `http://${reg.host}/token`;
    const client = new RegistryClient(reg.host, {
      minBytesPerSecond: 100,
      rateWindowMs: 500,
      budgetMs: 60_000,
    });
    const { error, ms } = await timed(client.ping());
    assert.ok(isDeadline(error), String(error));
    assert.match((error as Error).message, new RegExp(`${reg.host} \\(token reply\\).*minimum`));
    assert.ok(ms < 3000, `${ms} ms`);
    assert.equal(reg.count(/token/), 1, "not retried");
  },
});

Deno.test({
  ...opts,
  name: "deadlines: a manifest that keeps the rate but never ends misses its document deadline",
  async fn() {
    await using reg = startHostileRegistry((_req, url) => {
      if (url.pathname !== "/v2/a/b/manifests/latest") return undefined;
      return new Response(drippedBody(`{"x":"${"y".repeat(100_000)}"}`, 5), {
        headers: { "content-type": OCI_MANIFEST },
      });
    });
    const client = new RegistryClient(reg.host, {
      minBytesPerSecond: 50,
      rateWindowMs: 200,
      documentTimeoutMs: 800,
    });
    const { error, ms } = await timed(client.getManifest("a/b", "latest"));
    assert.ok(isDeadline(error), String(error));
    assert.match((error as Error).message, /manifest a\/b:latest.*deadline/);
    assert.ok(ms < 3000, `${ms} ms`);
  },
});

Deno.test({
  ...opts,
  name: "deadlines: a layer dripped 1 byte per 400 ms fails on the rate, before the idle guard",
  async fn() {
    const data = new Uint8Array(10_000).fill(1);
    await using reg = startHostileRegistry((_req, url) => {
      if (!url.pathname.includes("/blobs/")) return undefined;
      return new Response(drippedBody("a".repeat(10_000), 400), {
        headers: { "content-length": String(data.length) },
      });
    });
    const client = new RegistryClient(reg.host, {
      idleTimeoutMs: 2000,
      minBytesPerSecond: 100,
      rateWindowMs: 1000,
    });
    const stream = await client.getBlob("a/b", { digest: sha256Digest(data), size: data.length });
    const { error, ms } = await timed(new Response(stream).arrayBuffer());
    assert.ok(isDeadline(error), String(error));
    assert.match((error as Error).message, new RegExp(`${reg.host} \\(blob .*minimum of 100`));
    assert.ok(ms < 1800, `${ms} ms: the rate window (1 s) fires before the idle guard (2 s)`);
  },
});

Deno.test({
  ...opts,
  name: "deadlines: a silent server costs one header timeout, not retries",
  async fn() {
    await using silent = startSilentServer();
    const client = new RegistryClient(silent.host, { timeoutMs: 300, retries: 4, retryBaseMs: 1 });
    const { error, ms } = await timed(client.getManifest("a/b", "latest"));
    assert.ok(isDeadline(error), String(error));
    assert.match(
      (error as Error).message,
      new RegExp(`^${silent.host} sent no answer to GET /v2/a/b/manifests/latest in 0.3 s`),
    );
    assert.ok(ms < 1500, `${ms} ms`);
    assert.equal(silent.accepted, 1);
  },
});

Deno.test({
  ...opts,
  name: "deadlines: the budget bounds retries and Retry-After",
  async fn() {
    await using reg = startHostileRegistry(() =>
      new Response("busy", { status: 503, headers: { "retry-after": "3600" } })
    );
    const client = new RegistryClient(reg.host, { budgetMs: 500, maxRetryAfterMs: 60_000 });
    const { error, ms } = await timed(client.getManifest("a/b", "latest"));
    assert.ok(error instanceof NetworkError, String(error));
    assert.match((error as Error).message, /time budget ran out during retries/);
    assert.ok(ms < 1000, `${ms} ms`);
  },
});

Deno.test({
  ...opts,
  name: "deadlines: --timeout must be a positive number of seconds",
  async fn() {
    const err: string[] = [];
    const code = await upgrade.main(["--timeout", "soon"], {
      out: () => {},
      err: (t) => err.push(t),
    });
    assert.equal(code, 2);
    assert.match(err[0], /--timeout must be a number of seconds/);
  },
});

Deno.test("proxy: an unparsable --proxy URL is refused without echoing its password", () => {
  for (const proxy of ["http://user:s3cret@[bad", "user:s3cret@:x", "socks5h://u:s3cret pw@h:1"]) {
    let caught: unknown;
    try {
      new RegistryClient("127.0.0.1:1", { proxy });
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof UsageError, `${proxy}: ${caught}`);
    assert.ok(!(caught as Error).message.includes("s3cret"), (caught as Error).message);
    assert.match((caught as Error).message, /\*\*\*@/);
  }
});
