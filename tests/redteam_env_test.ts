/**
 * Red-team review of the env-passing refactor: the proxy and the auth file
 * a command uses come from the command's own environment (its sinks), not
 * from process-wide state that a refactor could silently stop reading. On
 * Tails-like setups a proxy that is ignored would send registry traffic
 * direct (deanonymizing); an auth file that is ignored, or read from the
 * wrong place, sends the wrong credentials.
 *
 * Each test is built so it can only pass one way: the registry's name
 * `registry.test` resolves nowhere but inside the SOCKS proxy, and the
 * registry needs the credentials only `$DOCKER_CONFIG/config.json` holds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as tag } from "../commands/tag.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { startSocks5Proxy } from "./helpers/socks5.ts";
import { startRegistry } from "./helpers/registry.ts";
import { envWith } from "./helpers/env.ts";

const fastRetry = { sleep: () => Promise.resolve() };

Deno.test({
  name:
    "redteam env: HTTPS_PROXY (and ALL_PROXY past an empty HTTPS_PROXY) in the command's env carries tag",
  sanitizeResources: false,
  async fn() {
    await using reg = await startRegistry();
    const direct = new RegistryClient(reg.host);
    const d = await pushImage(direct, "dz/envproxy", await buildImage({ files: { e: "1" } }), "v1");
    await using proxy = await startSocks5Proxy({ hosts: { "registry.test": "127.0.0.1" } });
    const port = Number(reg.host.split(":")[1]);
    const name = `registry.test:${port}`;
    const run = async (env: Record<string, string | undefined>, newTag: string) => {
      const lines: string[] = [];
      const code = await tag.main(
        [`${name}/dz/envproxy@${d}`, newTag, "--insecure-registry", name],
        {
          out: (t) => lines.push(t),
          err: (t) => lines.push(t),
          env: envWith({ https_proxy: undefined, all_proxy: undefined, ...env }),
          retry: fastRetry,
        },
      );
      return { code, lines };
    };
    const viaHttps = await run(
      { HTTPS_PROXY: `socks5h://${proxy.host}`, ALL_PROXY: undefined },
      "via-https",
    );
    assert.equal(viaHttps.code, 0, viaHttps.lines.join("\n"));
    const viaAll = await run({ HTTPS_PROXY: "", ALL_PROXY: `socks5h://${proxy.host}` }, "via-all");
    assert.equal(viaAll.code, 0, viaAll.lines.join("\n"));
    assert.ok(proxy.connections.every((c) => c.host === "registry.test"));
    assert.equal((await direct.getManifest("dz/envproxy", "via-https")).digest, d);
    assert.equal((await direct.getManifest("dz/envproxy", "via-all")).digest, d);
    // Without a proxy in the env the name cannot be reached: no direct fallback.
    const none = await run({ HTTPS_PROXY: undefined, ALL_PROXY: undefined }, "direct");
    assert.equal(none.code, 3, none.lines.join("\n"));
    assert.match(none.lines.join("\n"), /cannot reach/);
    direct.close();
  },
});

Deno.test({
  name: "redteam env: DOCKER_CONFIG in the command's env is where credentials come from",
  sanitizeResources: false,
  async fn() {
    await using reg = await startRegistry({ auth: "htpasswd" });
    const creds = () => Promise.resolve({ username: reg.username!, password: reg.password! });
    const direct = new RegistryClient(reg.host, { credentials: creds });
    const d = await pushImage(direct, "dz/envauth", await buildImage({ files: { a: "1" } }), "v1");
    const dir = await Deno.makeTempDir();
    try {
      const docker = join(dir, "docker");
      await Deno.mkdir(docker);
      await Deno.writeTextFile(
        join(docker, "config.json"),
        JSON.stringify({
          auths: { [reg.host]: { auth: btoa(`${reg.username}:${reg.password}`) } },
        }),
      );
      // An empty HOME tree: nothing but DOCKER_CONFIG can supply the login.
      const env = {
        REGISTRY_AUTH_FILE: undefined,
        XDG_RUNTIME_DIR: undefined,
        HOME: join(dir, "home"),
        HTTPS_PROXY: undefined,
        ALL_PROXY: undefined,
        https_proxy: undefined,
        all_proxy: undefined,
      };
      const run = async (extra: Record<string, string | undefined>, newTag: string) => {
        const lines: string[] = [];
        const code = await tag.main([`${reg.host}/dz/envauth@${d}`, newTag], {
          out: (t) => lines.push(t),
          err: (t) => lines.push(t),
          env: envWith({ ...env, ...extra }),
          retry: fastRetry,
        });
        return { code, lines };
      };
      const withConfig = await run({ DOCKER_CONFIG: docker }, "stable");
      assert.equal(withConfig.code, 0, withConfig.lines.join("\n"));
      assert.equal((await direct.getManifest("dz/envauth", "stable")).digest, d);
      const without = await run({ DOCKER_CONFIG: undefined }, "other");
      assert.equal(without.code, 3, without.lines.join("\n"));
      assert.match(without.lines.join("\n"), /login/);
    } finally {
      direct.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "env proxy: HTTPS_PROXY / ALL_PROXY are never used for a loopback registry (cli.md); --proxy is",
  sanitizeResources: false,
  async fn() {
    await using reg = await startRegistry();
    const direct = new RegistryClient(reg.host);
    const d = await pushImage(direct, "dz/loop", await buildImage({ files: { l: "1" } }), "v1");
    // A proxy that answers nothing: a request sent to it fails.
    const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadUrl = `http://127.0.0.1:${(dead.addr as Deno.NetAddr).port}`;
    dead.close();
    const run = async (extra: string[], env: Record<string, string | undefined>, t: string) => {
      const lines: string[] = [];
      const code = await tag.main([`${reg.host}/dz/loop@${d}`, t, ...extra], {
        out: (x) => lines.push(x),
        err: (x) => lines.push(x),
        env: envWith({ https_proxy: undefined, all_proxy: undefined, ...env }),
        retry: fastRetry,
      });
      return { code, lines };
    };
    const viaEnv = await run([], { HTTPS_PROXY: deadUrl, ALL_PROXY: deadUrl }, "env-ignored");
    assert.equal(viaEnv.code, 0, viaEnv.lines.join("\n"));
    assert.equal((await direct.getManifest("dz/loop", "env-ignored")).digest, d);
    // An explicit --proxy is always used, loopback or not.
    const viaFlag = await run(["--proxy", deadUrl], {}, "flag-used");
    assert.equal(viaFlag.code, 3, viaFlag.lines.join("\n"));
    direct.close();
  },
});
