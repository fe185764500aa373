/**
 * The registry client against the real CNCF distribution registry on
 * loopback: push/pull round trip (checked with skopeo), chunked upload and
 * mount, tags, referrers fallback, htpasswd and token auth, a blob whose
 * stored bytes were altered, and retries after injected 5xx.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { RegistryClient } from "../lib/registry/client.ts";
import { buildImage } from "./helpers/image_build.ts";
import { pushImage } from "./helpers/image_push.ts";
import { writeStreamAtomic } from "../lib/fs/atomic.ts";
import { sha256Digest } from "../lib/digest/digest.ts";
import { AuthError, DigestMismatchError, RegistryError } from "../lib/errors/errors.ts";
import { skopeoInspect, startRegistry } from "./helpers/registry.ts";
import { startFaultProxy } from "./helpers/fault_proxy.ts";

const sample = () =>
  buildImage({ files: { "hello.txt": "hello from the test image\n", "etc/version": "1\n" } });

Deno.test("registry client: push, pull, skopeo agrees", async () => {
  await using reg = await startRegistry();
  const client = new RegistryClient(reg.host);
  const image = await sample();
  const digest = await pushImage(client, "test/app", image, "v1");
  assert.equal(digest, image.manifestDescriptor.digest);

  const raw = await skopeoInspect(`${reg.host}/test/app:v1`, { raw: true });
  assert.deepEqual(raw, JSON.parse(new TextDecoder().decode(image.manifest)));
  const info = await skopeoInspect(`${reg.host}/test/app:v1`);
  assert.equal(info.Digest, digest);

  const m = await client.getManifest("test/app", "v1");
  assert.equal(m.digest, digest);
  assert.deepEqual(m.bytes, image.manifest);
  const byDigest = await client.getManifest("test/app", digest);
  assert.equal(byDigest.mediaType, "application/vnd.oci.image.manifest.v1+json");
  const head = await client.headManifest("test/app", "v1");
  assert.equal(head?.digest, digest);
  assert.equal(await client.headManifest("test/app", "nope"), undefined);

  const layer = image.layers[0];
  const dir = await Deno.makeTempDir();
  const out = join(dir, "layer");
  await writeStreamAtomic(out, await client.getBlob("test/app", layer.descriptor));
  assert.deepEqual(await Deno.readFile(out), layer.bytes);
  assert.equal(await client.headBlob("test/app", layer.descriptor.digest), layer.bytes.length);
  assert.deepEqual(await client.listTags("test/app"), ["v1"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("registry client: chunked upload, mount, referrers fallback tag", async () => {
  await using reg = await startRegistry();
  const client = new RegistryClient(reg.host);
  const big = crypto.getRandomValues(new Uint8Array(50_000));
  const desc = { digest: sha256Digest(big), size: big.length };
  assert.equal(await client.uploadBlob("a/one", desc, big, { chunkSize: 16_384 }), "uploaded");
  assert.equal(await client.headBlob("a/one", desc.digest), big.length);
  assert.equal(await client.uploadBlob("a/one", desc, big), "exists");
  assert.equal(await client.uploadBlob("a/two", desc, big, { mountFrom: "a/one" }), "mounted");
  const back = new Uint8Array(
    await new Response(await client.getBlob("a/two", desc)).arrayBuffer(),
  );
  assert.deepEqual(back, big);

  // Referrers: distribution 2.8 has no referrers API, so the fallback tag is used.
  const image = await sample();
  const digest = await pushImage(client, "a/one", image, "v1");
  assert.deepEqual(await client.referrers("a/one", digest), []);
  const index = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest,
      size: image.manifest.length,
      artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
    }],
  }));
  await client.putManifest(
    "a/one",
    `sha256-${digest.slice(7)}`,
    index,
    "application/vnd.oci.image.index.v1+json",
  );
  const refs = await client.referrers("a/one", digest);
  assert.equal(refs.length, 1);
  assert.equal(refs[0].artifactType, "application/vnd.dev.sigstore.bundle.v0.3+json");
  assert.equal(
    (await client.referrers("a/one", digest, "application/other")).length,
    0,
  );
});

Deno.test("registry client: altered blob bytes are rejected and nothing is kept", async () => {
  await using reg = await startRegistry();
  const client = new RegistryClient(reg.host);
  const image = await sample();
  await pushImage(client, "t/x", image, "v1");
  const layer = image.layers[0].descriptor;
  const hex = layer.digest.slice(7);
  const stored = join(
    reg.storageDir,
    "docker/registry/v2/blobs/sha256",
    hex.slice(0, 2),
    hex,
    "data",
  );
  const bytes = await Deno.readFile(stored);
  bytes[bytes.length >> 1] ^= 0x01; // one wrong byte, same size
  await Deno.writeFile(stored, bytes);

  const dir = await Deno.makeTempDir();
  const out = join(dir, "layer");
  await assert.rejects(
    async () => await writeStreamAtomic(out, await client.getBlob("t/x", layer)),
    DigestMismatchError,
  );
  assert.deepEqual([...Deno.readDirSync(dir)], [], "no file, no temp file left behind");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("registry client: a manifest whose bytes do not match the digest asked for is refused", async () => {
  await using reg = await startRegistry();
  const image = await sample();
  await pushImage(new RegistryClient(reg.host), "t/m", image, "v1");
  const other = "sha256:" + "0".repeat(64);
  // The proxy answers a request for digest `other` with the real manifest's bytes.
  await using proxy = startFaultProxy(reg.url, async (req) => {
    if (req.url.endsWith(other)) {
      const res = await fetch(`${reg.url}/v2/t/m/manifests/v1`, {
        headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
      });
      return new Response(await res.arrayBuffer(), {
        headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
      });
    }
    return undefined;
  });
  const client = new RegistryClient(proxy.host);
  await assert.rejects(client.getManifest("t/m", other), DigestMismatchError);
});

Deno.test("registry client: retries after injected 503/429, gives up after its budget", async () => {
  await using reg = await startRegistry();
  const image = await sample();
  await pushImage(new RegistryClient(reg.host), "t/r", image, "v1");
  await using proxy = startFaultProxy(reg.url, (req, n) => {
    const p = new URL(req.url).pathname;
    if (p.includes("/manifests/") && n <= 2) return new Response("busy", { status: 503 });
    if (p.includes("/blobs/") && n === 1) {
      return new Response("slow down", { status: 429, headers: { "retry-after": "0" } });
    }
    return undefined;
  });
  const client = new RegistryClient(proxy.host, { retryBaseMs: 5 });
  const m = await client.getManifest("t/r", "v1");
  assert.equal(m.digest, image.manifestDescriptor.digest);
  const blob = await client.getBlobBytes("t/r", image.configDescriptor);
  assert.deepEqual(blob, image.config);
  assert.equal(proxy.seen.filter((s) => s.includes("/manifests/v1")).length, 3);

  await using always = startFaultProxy(reg.url, () => new Response("down", { status: 500 }));
  const c2 = new RegistryClient(always.host, { retryBaseMs: 1, retries: 2 });
  await assert.rejects(
    c2.getManifest("t/r", "v1"),
    (e) => e instanceof RegistryError && e.status === 500,
  );
  assert.equal(always.seen.length, 3, "first attempt + 2 retries");
});

Deno.test("registry client: htpasswd Basic auth", async () => {
  await using reg = await startRegistry({ auth: "htpasswd" });
  const anon = new RegistryClient(reg.host);
  await assert.rejects(anon.ping(), AuthError);
  const creds = () => Promise.resolve({ username: reg.username!, password: reg.password! });
  const client = new RegistryClient(reg.host, { credentials: creds });
  await client.ping();
  const image = await sample();
  await pushImage(client, "p/q", image, "v1");
  assert.equal((await client.getManifest("p/q", "v1")).digest, image.manifestDescriptor.digest);
  const wrong = new RegistryClient(reg.host, {
    credentials: () => Promise.resolve({ username: reg.username!, password: "wrong" }),
  });
  await assert.rejects(wrong.getManifest("p/q", "v1"), AuthError);
});

Deno.test("registry client: bearer token challenge, anonymous pull, credentialed push, token reuse", async () => {
  await using reg = await startRegistry({ auth: "token" });
  const ts = reg.tokenServer!;
  const creds = () => Promise.resolve({ username: reg.username!, password: reg.password! });
  const pusher = new RegistryClient(reg.host, { credentials: creds });
  const image = await sample();
  await pushImage(pusher, "tok/app", image, "v1");
  assert.ok(ts.log.some((r) => r.user === reg.username && r.status === 200));
  assert.ok(ts.scopes.includes("repository:tok/app:pull,push"));

  const anon = new RegistryClient(reg.host);
  const before = ts.requests;
  for (let i = 0; i < 3; i++) await anon.getManifest("tok/app", "v1");
  await anon.getBlobBytes("tok/app", image.configDescriptor);
  assert.equal(ts.requests - before, 1, "one token for the pull scope, reused");
  // Anonymous push is refused.
  await assert.rejects(
    anon.putManifest("tok/app", "v2", image.manifest, image.manifestDescriptor.mediaType),
    AuthError,
  );
});

Deno.test("registry client: credentials are not sent to another host on redirect", async () => {
  const seenAuth: (string | null)[] = [];
  const target = Deno.serve({ hostname: "127.0.0.2", port: 0, onListen() {} }, (req) => {
    seenAuth.push(req.headers.get("authorization"));
    return new Response("blob-bytes");
  });
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (!req.headers.get("authorization")) {
      return new Response("", { status: 401, headers: { "www-authenticate": 'Basic realm="r"' } });
    }
    return new Response(null, {
      status: 307,
      headers: { location: `http://127.0.0.2:${(target.addr as Deno.NetAddr).port}/data` },
    });
  });
  try {
    const client = new RegistryClient(`127.0.0.1:${(origin.addr as Deno.NetAddr).port}`, {
      credentials: () => Promise.resolve({ username: "u", password: "secret" }),
    });
    const data = new TextEncoder().encode("blob-bytes");
    const got = await client.getBlobBytes("r/x", { digest: sha256Digest(data), size: data.length });
    assert.deepEqual(got, data);
    assert.deepEqual(seenAuth, [null]);
  } finally {
    await origin.shutdown();
    await target.shutdown();
  }
});

Deno.test("registry client: a stalled blob transfer is abandoned", async () => {
  const data = new TextEncoder().encode("0123456789");
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(data.slice(0, 4)); // then nothing more, ever
      },
      cancel() {
        clearTimeout(timer);
      },
    });
    return new Response(body, { headers: { "content-length": String(data.length) } });
  });
  try {
    const client = new RegistryClient(`127.0.0.1:${(server.addr as Deno.NetAddr).port}`, {
      idleTimeoutMs: 200,
    });
    const stream = await client.getBlob("s/x", { digest: sha256Digest(data), size: data.length });
    await assert.rejects(new Response(stream).arrayBuffer(), /no data for/);
  } finally {
    await server.shutdown();
  }
});
