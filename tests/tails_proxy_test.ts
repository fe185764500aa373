/**
 * On Tails every registry request goes through Tor's SOCKS port with a
 * random username per run (stream isolation), said once on stderr;
 * `--proxy` overrides; other systems are not proxied. Shown against the
 * real loopback registry and a loopback SOCKS5 relay standing in for Tor
 * (it records the RFC 1929 username, as Tor isolates streams by it).
 */
import assert from "node:assert/strict";
import { RegistryClient } from "../lib/registry/client.ts";
import { clientFor, proxyFor } from "../lib/registry/from_options.ts";
import { isTails, randomTorUsername, torProxyUrl } from "../lib/registry/tails.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import type { GlobalOptions } from "../lib/config/options.ts";
import { startSocks5Proxy } from "./helpers/socks5.ts";
import { startRegistry } from "./helpers/registry.ts";

const TAILS = `PRETTY_NAME="Tails"\nNAME="Tails"\nID="tails"\nVERSION_ID="6.10"\n`;
const DEBIAN = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n`;

function globals(extra: Partial<GlobalOptions> = {}): GlobalOptions {
  return {
    dataDir: "/nonexistent",
    insecureRegistries: [],
    json: false,
    progressMode: "none",
    debug: false,
    ...extra,
  };
}

Deno.test("tails: os-release detection", () => {
  assert.equal(isTails(TAILS), true);
  assert.equal(isTails("ID=tails\n"), true);
  assert.equal(isTails('NAME="Tails OS"\nID=debian\n'), true);
  assert.equal(isTails(DEBIAN), false);
  assert.equal(isTails(""), false);
  assert.equal(isTails(undefined), false);
  assert.notEqual(randomTorUsername(), randomTorUsername());
  assert.match(torProxyUrl("ab", 9050), /^socks5h:\/\/ab:ab@127\.0\.0\.1:9050$/);
});

Deno.test({
  name: "tails: every request through Tor's port, one username per run; --proxy overrides",
  sanitizeResources: false,
  async fn() {
    await using reg = await startRegistry();
    const digest = await pushImage(
      new RegistryClient(reg.host),
      "dz/tails",
      await buildImage({ files: { t: "over tor" } }),
      "v1",
    );
    await using tor = await startSocks5Proxy({ userPass: true });
    const torPort = Number(tor.host.split(":")[1]);
    const notices: string[] = [];
    const onTails = { osRelease: () => TAILS, torPort, notice: (l: string) => notices.push(l) };
    const [regHost, regPort] = reg.host.split(":");

    for (let i = 0; i < 2; i++) {
      const client = clientFor(reg.host, globals(), onTails);
      try {
        assert.equal((await client.getManifest("dz/tails", "v1")).digest, digest);
      } finally {
        client.close();
      }
    }
    assert.ok(tor.connections.length >= 2, "both clients went through Tor");
    for (const c of tor.connections) {
      assert.equal(c.host, regHost);
      assert.equal(c.port, Number(regPort));
      assert.match(c.username ?? "", /^[0-9a-f]{32}$/);
    }
    assert.equal(new Set(tor.connections.map((c) => c.username)).size, 1, "one username per run");
    assert.equal(notices.length, 1, "said once");
    assert.match(notices[0], /Tails.*Tor.*socks5h:\/\/127\.0\.0\.1:\d+/);

    // --proxy overrides: Tor sees nothing more.
    const seen = tor.connections.length;
    await using other = await startSocks5Proxy();
    const overridden = clientFor(reg.host, globals({ proxy: `socks5h://${other.host}` }), onTails);
    try {
      assert.equal((await overridden.getManifest("dz/tails", "v1")).digest, digest);
    } finally {
      overridden.close();
    }
    assert.equal(tor.connections.length, seen);
    assert.ok(other.connections.length >= 1);

    // Not Tails: no proxy at all.
    const direct = clientFor(reg.host, globals(), { osRelease: () => DEBIAN, torPort });
    try {
      assert.equal((await direct.getManifest("dz/tails", "v1")).digest, digest);
    } finally {
      direct.close();
    }
    assert.equal(tor.connections.length, seen);

    // Tails with Tor not running: the request fails, it is never sent directly.
    await tor.stop();
    const down = clientFor(reg.host, globals(), onTails);
    try {
      await assert.rejects(() => down.getManifest("dz/tails", "v1"));
    } finally {
      down.close();
    }
  },
});

Deno.test("tails: one proxy choice for every request of a run (registry, TUF, Rekor)", () => {
  const notices: string[] = [];
  const onTails = { osRelease: () => TAILS, torPort: 9150, notice: (l: string) => notices.push(l) };
  const noEnv = { env: () => undefined };
  const tor = proxyFor(globals(noEnv), onTails);
  assert.match(tor ?? "", /^socks5h:\/\/([0-9a-f]{32}):\1@127\.0\.0\.1:9150$/);
  // The same username for the whole run, whichever request asks.
  assert.equal(proxyFor(globals(noEnv), onTails), tor);
  assert.equal(
    proxyFor(globals({ proxy: "socks5h://127.0.0.1:1080", ...noEnv }), onTails),
    "socks5h://127.0.0.1:1080",
  );
  const debian = { osRelease: () => DEBIAN };
  assert.equal(proxyFor(globals(noEnv), debian), undefined);
  const withEnv = { env: (n: string) => n === "HTTPS_PROXY" ? "http://10.0.0.1:3128" : undefined };
  assert.equal(proxyFor(globals(withEnv), debian), "http://10.0.0.1:3128");
  // Tails wins over an inherited HTTPS_PROXY (Tor or nothing).
  assert.equal(proxyFor(globals(withEnv), onTails), tor);
});
