/**
 * The Rekor upload of `sign-blob` (and `sign`) goes through the run's proxy,
 * like every registry and TUF request: a signer who asked for `--proxy` (or
 * runs Tails) does not show their address to the log. Shown with a loopback
 * SOCKS5 relay that alone knows the log's host name (`rekor.test`): a direct
 * upload cannot even resolve it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startLocalSigstore } from "../scripts/local_sigstore.ts";
import { generateCosignKeyPair } from "../lib/keys/private_key.ts";
import { command as signBlob } from "../commands/sign-blob.ts";
import { startSocks5Proxy } from "./helpers/socks5.ts";
import { capturingSinks } from "./helpers/env.ts";

Deno.test({
  name: "sign-blob: the Rekor upload goes through --proxy (and never around it)",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dz-rekor-proxy-" });
    const ss = await startLocalSigstore();
    try {
      const root = join(dir, "trusted_root.json");
      await ss.writeTrustedRoot(root);
      const pair = await generateCosignKeyPair("pw");
      const key = join(dir, "cosign.key");
      await Deno.writeTextFile(key, pair.privateKeyPem);
      const file = join(dir, "a.txt");
      await Deno.writeTextFile(file, "carried by the proxy\n");
      const port = new URL(ss.rekorUrl).port;
      const rekorUrl = `http://rekor.test:${port}`;
      await using relay = await startSocks5Proxy({ hosts: { "rekor.test": "127.0.0.1" } });
      const env = { COSIGN_PASSWORD: "pw", HTTPS_PROXY: undefined, ALL_PROXY: undefined };
      const args = (out: string, proxy: string) => [
        file,
        "--key",
        key,
        "--bundle",
        out,
        "--rekor-url",
        rekorUrl,
        "--trusted-root",
        root,
        "--proxy",
        proxy,
      ];

      const ok = capturingSinks(env);
      const out = join(dir, "a.sigstore.json");
      const code = await signBlob.main(args(out, `socks5h://${relay.host}`), ok.sinks);
      assert.equal(code, 0, ok.err.join("\n"));
      assert.ok(
        relay.connections.some((c) => c.host === "rekor.test" && c.port === Number(port)),
        `the relay saw ${JSON.stringify(relay.connections)}`,
      );
      const bundle = JSON.parse(await Deno.readTextFile(out));
      assert.equal(bundle.verificationMaterial.tlogEntries.length, 1);

      // The proxy is down: the upload fails (exit 3, one line), it is never sent directly.
      const seen = relay.connections.length;
      await relay.stop();
      const down = capturingSinks(env);
      const out2 = join(dir, "b.sigstore.json");
      assert.equal(await signBlob.main(args(out2, `socks5h://${relay.host}`), down.sinks), 3);
      assert.equal(down.err.join("\n").trim().split("\n").length, 1, down.err.join("\n"));
      assert.match(down.err.join("\n"), /cannot reach Rekor/);
      assert.equal(relay.connections.length, seen);
      assert.equal(await Deno.lstat(out2).then(() => true, () => false), false);
    } finally {
      await ss.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
