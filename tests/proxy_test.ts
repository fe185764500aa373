/**
 * `--proxy`: registry traffic really goes through a SOCKS5 proxy (`socks5h://`
 * resolves names at the proxy, as Tor needs; `socks5://` sends addresses) and
 * through an HTTP proxy, against the real loopback registry.
 */
import assert from "node:assert/strict";
import { command as tag } from "../commands/tag.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { clientFor } from "../lib/registry/from_options.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { startSocks5Proxy } from "./helpers/socks5.ts";
import { startRegistry } from "./helpers/registry.ts";
import type { GlobalOptions } from "../lib/config/options.ts";

/** Retries without real backoff: the waits are the retry policy's, not what these tests check. */
const fastRetry = { sleep: () => Promise.resolve() };

function globals(extra: Partial<GlobalOptions>): GlobalOptions {
  return {
    dataDir: "/nonexistent",
    insecureRegistries: [],
    json: false,
    progressMode: "none",
    debug: false,
    retry: fastRetry,
    ...extra,
  };
}

Deno.test({
  name: "proxy: socks5h:// resolves the registry name at the proxy (a name only it knows)",
  sanitizeResources: false,
  async fn() {
    await using reg = await startRegistry();
    const digest = await pushImage(
      new RegistryClient(reg.host),
      "dz/proxied",
      await buildImage({ files: { "p": "through the proxy" } }),
      "v1",
    );
    // `registry.test` resolves nowhere but inside the proxy.
    await using proxy = await startSocks5Proxy({ hosts: { "registry.test": "127.0.0.1" } });
    const port = Number(reg.host.split(":")[1]);
    const name = `registry.test:${port}`;
    const client = clientFor(
      name,
      globals({ proxy: `socks5h://${proxy.host}`, insecureRegistries: [name] }),
    );
    try {
      const m = await client.getManifest("dz/proxied", "v1");
      assert.equal(m.digest, digest);
    } finally {
      client.close();
    }
    assert.ok(proxy.connections.length >= 1, "the proxy relayed the request");
    assert.deepEqual(proxy.connections[0], { atyp: "domain", host: "registry.test", port });

    // Without the proxy the name cannot be reached at all: the test above
    // could only pass through it.
    const direct = clientFor(name, globals({ insecureRegistries: [name], proxy: undefined }));
    try {
      await assert.rejects(() => direct.getManifest("dz/proxied", "v1"), /cannot reach/);
    } finally {
      direct.close();
    }
  },
});

Deno.test({
  name: "proxy: a command's --proxy socks5:// (IPv4 address) and the proxy sees it",
  sanitizeResources: false,
  async fn() {
    await using reg = await startRegistry();
    const client = new RegistryClient(reg.host);
    const d = await pushImage(client, "dz/tagme", await buildImage({ files: { "t": "1" } }), "v1");
    await using proxy = await startSocks5Proxy();
    const out: string[] = [];
    const code = await tag.main(
      [`${reg.host}/dz/tagme@${d}`, "stable", "--proxy", `socks5://${proxy.host}`],
      { out: (t) => out.push(t), err: (t) => out.push(t) },
    );
    assert.equal(code, 0, out.join("\n"));
    assert.equal((await client.getManifest("dz/tagme", "stable")).digest, d);
    const port = Number(reg.host.split(":")[1]);
    assert.ok(
      proxy.connections.some((c) => c.atyp === "ipv4" && c.host === "127.0.0.1" && c.port === port),
      JSON.stringify(proxy.connections),
    );
  },
});

Deno.test({
  name: "proxy: a dead proxy fails closed with one line and exit 3 (no direct fallback)",
  sanitizeResources: false,
  async fn() {
    await using reg = await startRegistry();
    const client = new RegistryClient(reg.host);
    const d = await pushImage(client, "dz/dead", await buildImage({ files: { "d": "1" } }), "v1");
    // A port with nothing listening.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = (l.addr as Deno.NetAddr).port;
    l.close();
    const lines: string[] = [];
    const code = await tag.main(
      [`${reg.host}/dz/dead@${d}`, "moved", "--proxy", `socks5h://127.0.0.1:${deadPort}`],
      { out: (t) => lines.push(t), err: (t) => lines.push(t), retry: fastRetry },
    );
    assert.equal(code, 3);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /cannot reach/);
    await assert.rejects(() => client.getManifest("dz/dead", "moved"), /no such image\/tag moved/);

    const bad: string[] = [];
    const usage = await tag.main(
      [`${reg.host}/dz/dead@${d}`, "moved", "--proxy", "ftp://127.0.0.1:1"],
      { out: (t) => bad.push(t), err: (t) => bad.push(t) },
    );
    assert.equal(usage, 2, bad.join("\n"));
  },
});

Deno.test({
  name: "proxy: http:// proxy (CONNECT-less forward proxy) carries a manifest fetch",
  sanitizeResources: false,
  async fn() {
    await using reg = await startRegistry();
    const d = await pushImage(
      new RegistryClient(reg.host),
      "dz/httpproxy",
      await buildImage({ files: { "h": "1" } }),
      "v1",
    );
    // A minimal forward proxy: absolute-form requests for plain http://, or CONNECT.
    const seen: string[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      seen.push(`${req.method} ${req.url}`);
      const url = new URL(req.url);
      if (url.host !== reg.host) return new Response("forbidden", { status: 403 });
      return fetch(`${reg.url}${url.pathname}${url.search}`, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        redirect: "manual",
      });
    });
    try {
      const proxyHost = `127.0.0.1:${server.addr.port}`;
      const client = clientFor(reg.host, globals({ proxy: `http://${proxyHost}` }));
      try {
        assert.equal((await client.getManifest("dz/httpproxy", "v1")).digest, d);
      } finally {
        client.close();
      }
      assert.ok(
        seen.some((s) => s.includes(`${reg.host}/v2/dz/httpproxy/manifests/v1`)),
        seen.join("\n"),
      );
    } finally {
      await server.shutdown();
    }
  },
});
