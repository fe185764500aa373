/**
 * Proves the real-registry harness works, using plain fetch and skopeo.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { skopeoInspect, startRegistry } from "./registry.ts";
import { parseScope, startTokenServer } from "./token_server.ts";

function sha256(data: Uint8Array<ArrayBuffer>): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

/** Parse `Bearer realm="…",service="…",scope="…"` into its parameters. */
function parseChallenge(header: string): Record<string, string> {
  assert.match(header, /^Bearer /);
  const params: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[m[1]] = m[2];
  return params;
}

/** Monolithic blob upload: POST to start, PUT ?digest= with the bytes. */
async function pushBlob(
  base: string,
  repo: string,
  data: Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = {},
): Promise<string> {
  const digest = sha256(data);
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: "POST", headers });
  await start.body?.cancel();
  assert.equal(start.status, 202);
  const location = new URL(start.headers.get("location")!, base);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    headers: { ...headers, "content-type": "application/octet-stream" },
    body: data,
  });
  await put.body?.cancel();
  assert.equal(put.status, 201);
  assert.equal(put.headers.get("docker-content-digest"), digest);
  return digest;
}

/** Push a one-layer OCI image with fetch; returns the manifest bytes and layer digest. */
async function pushTinyImage(
  base: string,
  repo: string,
  tag: string,
  headers: Record<string, string> = {},
): Promise<{ manifest: Uint8Array<ArrayBuffer>; layerDigest: string }> {
  const enc = new TextEncoder();
  const layer = enc.encode("not really a tarball, but a blob\n");
  const config = enc.encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [sha256(layer)] },
    config: {},
  }));
  const layerDigest = await pushBlob(base, repo, layer, headers);
  const configDigest = await pushBlob(base, repo, config, headers);
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: layerDigest,
      size: layer.length,
    }],
  }));
  const put = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: { ...headers, "content-type": "application/vnd.oci.image.manifest.v1+json" },
    body: manifest,
  });
  await put.body?.cancel();
  assert.equal(put.status, 201);
  assert.equal(put.headers.get("docker-content-digest"), sha256(manifest));
  return { manifest, layerDigest };
}

Deno.test("registry none: /v2/ answers 200 and stop() removes the storage", async () => {
  const reg = await startRegistry();
  assert.match(reg.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(reg.url, `http://${reg.host}`);
  const res = await fetch(`${reg.url}/v2/`);
  await res.body?.cancel();
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
  await reg.stop();
  await assert.rejects(Deno.stat(reg.storageDir), Deno.errors.NotFound);
  await assert.rejects(fetch(`${reg.url}/v2/`));
  await reg.stop(); // idempotent
});

Deno.test("two registries run side by side on different ports", async () => {
  await using a = await startRegistry();
  await using b = await startRegistry();
  assert.notEqual(a.host, b.host);
});

Deno.test("registry htpasswd: 401 anonymous, 401 wrong password, 200 with Basic", async () => {
  await using reg = await startRegistry({ auth: "htpasswd" });
  assert.ok(reg.username && reg.password);
  const anon = await fetch(`${reg.url}/v2/`);
  await anon.body?.cancel();
  assert.equal(anon.status, 401);
  assert.match(anon.headers.get("www-authenticate") ?? "", /^Basic realm=/);

  const wrong = await fetch(`${reg.url}/v2/`, {
    headers: { authorization: `Basic ${btoa(`${reg.username}:not-the-password`)}` },
  });
  await wrong.body?.cancel();
  assert.equal(wrong.status, 401);

  const ok = await fetch(`${reg.url}/v2/`, { headers: reg.basicAuthHeader() });
  await ok.body?.cancel();
  assert.equal(ok.status, 200);
});

Deno.test("registry token: Bearer challenge, fixture token accepted, scopes enforced", async () => {
  await using reg = await startRegistry({ auth: "token" });
  const ts = reg.tokenServer!;
  const anon = await fetch(`${reg.url}/v2/`);
  await anon.body?.cancel();
  assert.equal(anon.status, 401);
  const challenge = parseChallenge(anon.headers.get("www-authenticate") ?? "");
  assert.equal(challenge.realm, ts.realm);
  assert.equal(challenge.service, ts.service);

  // Anonymous token (no scope) opens /v2/.
  const tokRes = await fetch(`${challenge.realm}?service=${encodeURIComponent(challenge.service)}`);
  assert.equal(tokRes.status, 200);
  const body = await tokRes.json();
  assert.equal(typeof body.token, "string");
  assert.equal(body.access_token, body.token);
  assert.equal(body.expires_in, 300);
  const ok = await fetch(`${reg.url}/v2/`, { headers: { authorization: `Bearer ${body.token}` } });
  await ok.body?.cancel();
  assert.equal(ok.status, 200);
  assert.equal(ts.requests, 1);

  // A token the registry's root bundle does not vouch for is refused.
  const forged = body.token.slice(0, -4) + (body.token.endsWith("AAAA") ? "BBBB" : "AAAA");
  const bad = await fetch(`${reg.url}/v2/`, { headers: { authorization: `Bearer ${forged}` } });
  await bad.body?.cancel();
  assert.equal(bad.status, 401);

  // Same issuer/service names but a key outside the root bundle: refused.
  {
    await using other = await startTokenServer({ service: ts.service, issuer: ts.issuer });
    const alien = await other.mint([]);
    const res = await fetch(`${reg.url}/v2/`, { headers: { authorization: `Bearer ${alien}` } });
    await res.body?.cancel();
    assert.equal(res.status, 401);
    // ...while a token minted by the trusted fixture key is accepted.
    const trusted = await ts.mint([]);
    const res2 = await fetch(`${reg.url}/v2/`, { headers: { authorization: `Bearer ${trusted}` } });
    await res2.body?.cancel();
    assert.equal(res2.status, 200);
  }

  // Push needs credentials: anonymous asks for pull,push and only gets pull.
  const repo = "dz/token-test";
  const scope = `repository:${repo}:pull,push`;
  const tokenFor = async (auth?: string) => {
    const r = await fetch(
      `${ts.realm}?service=${encodeURIComponent(ts.service)}&scope=${encodeURIComponent(scope)}`,
      { headers: auth ? { authorization: auth } : {} },
    );
    return { status: r.status, body: await r.json() };
  };
  const anonTok = await tokenFor();
  assert.equal(anonTok.status, 200);
  const anonPush = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, {
    method: "POST",
    headers: { authorization: `Bearer ${anonTok.body.token}` },
  });
  await anonPush.body?.cancel();
  assert.equal(anonPush.status, 401);
  assert.match(anonPush.headers.get("www-authenticate") ?? "", /scope="repository:dz\/token-test:/);

  const badCreds = await tokenFor(`Basic ${btoa(`${ts.username}:wrong`)}`);
  assert.equal(badCreds.status, 401);

  const userTok = await tokenFor(`Basic ${btoa(`${ts.username}:${ts.password}`)}`);
  assert.equal(userTok.status, 200);
  const digest = await pushBlob(reg.url, repo, new TextEncoder().encode("token blob\n"), {
    authorization: `Bearer ${userTok.body.token}`,
  });
  const head = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, {
    method: "HEAD",
    headers: { authorization: `Bearer ${anonTok.body.token}` },
  });
  assert.equal(head.status, 200);

  assert.equal(ts.requests, 4);
  assert.deepEqual(ts.scopes, [scope, scope, scope]);
  assert.deepEqual(ts.log.map((r) => [r.user, r.status]), [
    [null, 200],
    [null, 200],
    [ts.username, 401],
    [ts.username, 200],
  ]);

  // A real client (skopeo) pulls anonymously through the token flow.
  const { manifest } = await pushTinyImage(reg.url, repo, "v1", {
    authorization: `Bearer ${userTok.body.token}`,
  });
  const raw = await skopeoInspect(`${reg.host}/${repo}:v1`, { raw: true });
  assert.deepEqual(raw, JSON.parse(new TextDecoder().decode(manifest)));
  assert.ok(ts.requests > 4);
  assert.ok(ts.log.slice(4).every((r) => r.user === null && r.status === 200));
  assert.ok(ts.scopes.slice(3).includes(`repository:${repo}:pull`), ts.scopes.join(" "));
});

Deno.test("token server: scope parsing keeps colons in names", () => {
  assert.deepEqual(parseScope("repository:127.0.0.1:5000/a/b:pull,push"), {
    type: "repository",
    name: "127.0.0.1:5000/a/b",
    actions: ["pull", "push"],
  });
  assert.equal(parseScope("garbage"), null);
});

Deno.test("registry none: fetch-pushed blob + manifest is what skopeo inspect --raw sees", async () => {
  await using reg = await startRegistry();
  const repo = "dz/hello";
  const { manifest, layerDigest } = await pushTinyImage(reg.url, repo, "v1");
  const raw = await skopeoInspect(`${reg.host}/${repo}:v1`, { raw: true });
  assert.deepEqual(raw, JSON.parse(new TextDecoder().decode(manifest)));
  const info = await skopeoInspect(`docker://${reg.host}/${repo}:v1`);
  assert.equal(info.Digest, sha256(manifest));
  assert.deepEqual(info.Layers, [layerDigest]);

  await assert.rejects(skopeoInspect(`${reg.host}/${repo}:missing`), /skopeo .* failed/);
});

Deno.test("startRegistry: retries on another port when its port is taken", async () => {
  using squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const taken = (squatter.addr as Deno.NetAddr).port;
  await using reg = await startRegistry({ port: taken });
  assert.notEqual(reg.host, `127.0.0.1:${taken}`);
  assert.match(await reg.readLog(), new RegExp(`127\\.0\\.0\\.1:${taken}.*address already in use`));
  const res = await fetch(`${reg.url}/v2/`);
  await res.body?.cancel();
  assert.equal(res.status, 200);
});

Deno.test("startRegistry: a broken binary fails with the log tail", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fake = `${dir}/fake-registry`;
    await Deno.writeTextFile(fake, "#!/bin/sh\necho 'fake registry exploding' >&2\nexit 3\n");
    await Deno.chmod(fake, 0o755);
    await assert.rejects(
      startRegistry({ binary: fake }),
      /did not start[\s\S]*fake registry exploding/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
