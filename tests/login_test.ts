/**
 * login / logout against the real htpasswd registry; interoperable with
 * `podman login`'s auth file; the password never appears in output.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { command as login } from "../commands/login.ts";
import { command as logout } from "../commands/logout.ts";
import { authFileCredentialsIn } from "../lib/registry/credentials.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { startRegistry } from "./helpers/registry.ts";
import { envWith } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

function sinks() {
  const lines: string[] = [];
  return {
    lines,
    sinks: {
      out: (t: string) => lines.push(t),
      err: (t: string) => lines.push(t),
      env: envWith(testEnv),
    },
  };
}

Deno.test({
  name: "login: checks credentials, stores them 0600 keeping other entries; logout removes",
  sanitizeResources: false,
  async fn() {
    await using reg = await startRegistry({ auth: "htpasswd" });
    const dir = await Deno.makeTempDir();
    const file = join(dir, "auth.json");
    testEnv.REGISTRY_AUTH_FILE = file;
    try {
      await Deno.writeTextFile(
        file,
        JSON.stringify({ auths: { "other.example": { auth: btoa("o:p") } }, credsStore: "x" }),
      );
      const bad = sinks();
      assert.equal(
        await login.main([reg.host, "-u", reg.username!, "--password", "wrong"], bad.sinks),
        3,
      );
      assert.match(
        bad.lines.join("\n"),
        /refused user .* with this password \(check the user name and password/,
      );
      assert.ok(!bad.lines.join("\n").includes("wrong"), "password not echoed");
      assert.ok(!(await Deno.readTextFile(file)).includes(reg.host), "nothing stored on failure");

      const ok = sinks();
      assert.equal(
        await login.main([reg.host, "-u", reg.username!, "--password", reg.password!], ok.sinks),
        0,
        ok.lines.join("\n"),
      );
      assert.ok(!ok.lines.join("\n").includes(reg.password!), "password not printed");
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      const stored = JSON.parse(await Deno.readTextFile(file));
      assert.equal(stored.credsStore, "x");
      assert.ok(stored.auths["other.example"]);
      const credentials = authFileCredentialsIn(envWith(testEnv));
      const creds = await credentials(reg.host);
      assert.deepEqual(creds, {
        username: reg.username,
        password: reg.password,
        identityToken: undefined,
      });
      // What login stored is what every command then uses.
      await new RegistryClient(reg.host, { credentials }).ping();

      // podman reads it.
      const podman = await new Deno.Command("podman", {
        args: ["login", "--get-login", "--authfile", file, reg.host],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(podman.stdout).trim(), reg.username);

      const out = sinks();
      assert.equal(await logout.main([reg.host], out.sinks), 0);
      const after = JSON.parse(await Deno.readTextFile(file));
      assert.equal(after.auths[reg.host], undefined);
      assert.ok(after.auths["other.example"]);

      // And we read what `podman login` writes.
      const pl = await new Deno.Command("podman", {
        args: [
          "login",
          "--tls-verify=false",
          "--authfile",
          file,
          "-u",
          reg.username!,
          "--password-stdin",
          reg.host,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = pl.stdin.getWriter();
      await w.write(new TextEncoder().encode(reg.password!));
      await w.close();
      const st = await pl.output();
      assert.ok(st.success, new TextDecoder().decode(st.stderr));
      assert.equal((await credentials(reg.host))?.password, reg.password);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("login: usage errors", async () => {
  const s = sinks();
  assert.equal(await login.main(["reg.example"], s.sinks), 2);
  assert.match(s.lines[0], /missing -u/);
  assert.equal(await login.main(["bad host!", "-u", "x", "-p", "y"], sinks().sinks), 2);
});
