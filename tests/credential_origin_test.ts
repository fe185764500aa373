/**
 * Credentials go only to the registry's own origin (scheme, host, port) and
 * its token realm (issue 13 item 7). A real distribution registry behind
 * htpasswd is fronted by a loopback proxy that rewrites the blob-upload
 * `Location` to a recording server on 127.0.0.2 (another origin), as a
 * hostile registry or network would; no Authorization may reach it, with
 * Basic and with bearer tokens, through the client and through `sign`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { RegistryClient } from "../lib/registry/client.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { sha256Digest } from "../lib/digest/digest.ts";
import { AuthError } from "../lib/errors/errors.ts";
import { startRegistry, type TestRegistry } from "./helpers/registry.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";
import { type Recorder, startRecorder } from "./helpers/hostile_server.ts";
import { command as sign } from "../commands/sign.ts";
import { command as genkey } from "../commands/generate-key-pair.ts";
import { envWith } from "./helpers/env.ts";

/** Environment variables the commands of this file read (never set process-wide). */
const testEnv: Record<string, string | undefined> = {};

/** A proxy in front of `reg` that moves upload sessions to `recorder`'s origin. */
function locationRewriter(reg: TestRegistry, recorder: Recorder) {
  return startFaultProxy(reg.url, async (req) => {
    const url = new URL(req.url);
    if (req.method !== "POST" || !url.pathname.includes("/blobs/uploads/")) return undefined;
    const headers = new Headers(req.headers);
    headers.delete("host");
    const res = await fetch(new URL(url.pathname + url.search, reg.url), {
      method: "POST",
      headers,
      body: req.body,
      redirect: "manual",
    });
    const out = new Headers(res.headers);
    const loc = out.get("location");
    if (loc) {
      const moved = new URL(loc, reg.url);
      out.set("location", `${recorder.origin}${moved.pathname}${moved.search}`);
    }
    return new Response(res.body, { status: res.status, headers: out });
  });
}

/** Push through the rewriter with the registry's credentials: what reached 127.0.0.2, and the error. */
async function pushThroughRewriter(auth: "htpasswd" | "token") {
  await using reg = await startRegistry({ auth });
  await using recorder = startRecorder("127.0.0.2", reg.url);
  await using proxy = locationRewriter(reg, recorder);
  const client = new RegistryClient(proxy.host, {
    credentials: () => Promise.resolve({ username: reg.username!, password: reg.password! }),
  });
  try {
    const image = await buildImage({ files: { "a": `push me (${auth})` } });
    const error = await pushImage(client, "dz/app", image, "v1").then(() => undefined, (e) => e);
    return { seen: recorder.seen, error, password: reg.password! };
  } finally {
    client.close();
  }
}

Deno.test({
  name: "credentials: an upload Location on another origin gets no Basic credentials",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { seen, error, password } = await pushThroughRewriter("htpasswd");
    assert.ok(seen.length > 0, "the upload went to the other origin");
    for (const r of seen) assert.equal(r.authorization, null, r.line);
    // The registry refuses the anonymous upload: a clear failure naming the other origin.
    assert.ok(error instanceof AuthError, String(error));
    assert.match(error.message, /127\.0\.0\.2/);
    assert.ok(!error.message.includes(password));
  },
});

Deno.test({
  name: "credentials: an upload Location on another origin gets no bearer token",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { seen, error } = await pushThroughRewriter("token");
    assert.ok(seen.length > 0);
    for (const r of seen) assert.equal(r.authorization, null, r.line);
    assert.ok(error instanceof AuthError, String(error));
  },
});

Deno.test({
  name:
    "credentials: `sign` never sends the registry's Basic credentials to an upload on 127.0.0.2",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using reg = await startRegistry({ auth: "htpasswd" });
    await using recorder = startRecorder("127.0.0.2", reg.url);
    await using proxy = locationRewriter(reg, recorder);
    const dir = await Deno.makeTempDir();
    const quiet = { out: () => {}, err: () => {}, env: envWith(testEnv) };
    testEnv.COSIGN_PASSWORD = "demo-password";
    const authFile = join(dir, "auth.json");
    await Deno.writeTextFile(
      authFile,
      JSON.stringify({
        auths: { [proxy.host]: { auth: btoa(`${reg.username}:${reg.password}`) } },
      }),
    );
    testEnv.REGISTRY_AUTH_FILE = authFile;
    try {
      assert.equal(await genkey.main(["--output-key-prefix", join(dir, "k")], quiet), 0);
      // The image itself is pushed straight to the registry.
      const direct = new RegistryClient(reg.host, {
        credentials: () => Promise.resolve({ username: reg.username!, password: reg.password! }),
      });
      const image = await buildImage({ files: { "a": "sign me" } });
      const digest = await pushImage(direct, "dz/app", image, "v1");
      direct.close();
      const err: string[] = [];
      const code = await sign.main(
        [`${proxy.host}/dz/app@${digest}`, "--key", join(dir, "k.key"), "--tlog-upload=false"],
        { out: () => {}, err: (t) => err.push(t), env: envWith(testEnv) },
      );
      assert.ok(recorder.seen.length > 0, "sign's upload went to the other origin");
      for (const r of recorder.seen) assert.equal(r.authorization, null, r.line);
      assert.equal(code, 3, err.join("\n"));
      const last = err.filter((l) => !l.startsWith("WARNING"));
      assert.equal(last.length, 1, err.join("\n"));
      assert.match(last[0], /127\.0\.0\.2/);
      assert.ok(!err.join("\n").includes(reg.password!));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "credentials: a GET redirected to another origin is followed without credentials",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const data = new TextEncoder().encode("blob-bytes");
    await using recorder = startRecorder("127.0.0.2", undefined, () => new Response(data));
    const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      if (!req.headers.get("authorization")) {
        return new Response("", {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="r"' },
        });
      }
      // Same host, other port: another origin too.
      return new Response(null, {
        status: 302,
        headers: { location: `${recorder.origin}/data` },
      });
    });
    try {
      const client = new RegistryClient(`127.0.0.1:${(origin.addr as Deno.NetAddr).port}`, {
        credentials: () => Promise.resolve({ username: "u", password: "secret" }),
      });
      const got = await client.getBlobBytes("r/x", {
        digest: sha256Digest(data),
        size: data.length,
      });
      assert.deepEqual(got, data);
      assert.deepEqual(recorder.seen.map((r) => r.authorization), [null]);
      client.close();
    } finally {
      await origin.shutdown();
    }
  },
});
