/**
 * A hostile registry cannot exhaust memory or hang a command (issue 22
 * items 1-3, 5): `dangerzone-image upgrade` runs as a child process against
 * scripted servers on loopback (endless and dripped bodies of every kind, a
 * silent server, an 18,000-layer `.sig`, amplified referrers, a tag that
 * leaves `manifests/`). Each run must end by itself, with one line on
 * stderr naming the host, under a peak-RSS bound read from the child's
 * `/proc/<pid>/status`, and within its deadline; nothing is installed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Digest } from "../lib/digest/digest.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { VerificationError } from "../lib/errors/errors.ts";
import {
  type CliRun,
  drippedBody,
  endlessBody,
  type HostileRegistry,
  runCli,
  startHostileRegistry,
  startSilentServer,
} from "./helpers/hostile_server.ts";
import {
  assertRefused,
  base,
  bearerRegistry,
  IMAGE,
  manifestResponse,
  OCI_MANIFEST,
  upgrade,
} from "./helpers/hostile_upgrade.ts";
import { exists } from "./helpers/files.ts";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const enc = new TextEncoder();
const SIG_TAG = `sha256-${IMAGE.digest.slice(7)}.sig`;

/** What is left after de-duplication is one (invalid) signature, refused by the verifier. */
function assertOneSignatureLeft(r: { run: CliRun; images: string }, host: string): Promise<void> {
  return assertRefused(r, host, {
    code: 1,
    seconds: 60,
    namesHost: false,
    match: /none of the 1 signature/,
  });
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  ...opts,
  name: "hostile registry: an endless token reply is refused at its limit",
  async fn() {
    await using reg = bearerRegistry(() =>
      new Response(endlessBody(), { headers: { "content-type": "application/json" } })
    );
    const r = await upgrade(reg.host);
    await assertRefused(r, reg.host, { seconds: 30, match: /token reply.*more than/ });
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: an endless 404 error body ends the run at once",
  async fn() {
    await using reg = startHostileRegistry((req, url) => {
      if (url.pathname === "/v2/dz/app/manifests/latest") {
        return new Response(endlessBody(), {
          status: 404,
          headers: { "content-type": "application/json" },
        });
      }
      return base(req, url);
    });
    const r = await upgrade(reg.host);
    await assertRefused(r, reg.host, { seconds: 30, match: /no such image\/tag latest/ });
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: an endless manifest body is refused at 4 MiB",
  async fn() {
    await using reg = startHostileRegistry((req, url) => {
      if (url.pathname === "/v2/dz/app/manifests/latest") {
        return new Response(endlessBody(), { headers: { "content-type": OCI_MANIFEST } });
      }
      return base(req, url);
    });
    const r = await upgrade(reg.host);
    await assertRefused(r, reg.host, { seconds: 30, match: /manifest.*more than the 4194304/ });
    assert.equal(reg.count(/manifests\/latest/), 1, "a refused body is not fetched again");
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: a token reply dripped at 1 byte/s ends with the --timeout budget",
  async fn() {
    await using reg = bearerRegistry(() =>
      new Response(drippedBody(`{"token":"${"x".repeat(1000)}"}`, 1000))
    );
    const r = await upgrade(reg.host, ["--timeout", "5"]);
    await assertRefused(r, reg.host, { seconds: 20, match: /time budget ran out.*token reply/ });
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: a manifest dripped at 1 byte/s ends with the --timeout budget",
  async fn() {
    await using reg = startHostileRegistry((req, url) => {
      if (url.pathname === "/v2/dz/app/manifests/latest" && req.method === "GET") {
        return new Response(drippedBody(new TextDecoder().decode(IMAGE.bytes), 1000), {
          headers: { "content-type": OCI_MANIFEST },
        });
      }
      return base(req, url);
    });
    const r = await upgrade(reg.host, ["--timeout", "5"]);
    await assertRefused(r, reg.host, { seconds: 20, match: /time budget ran out.*manifest/ });
    assert.equal(reg.count(/manifests\/latest/), 1, "a missed deadline is not retried");
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: a server that accepts and never answers costs the budget, once",
  async fn() {
    await using silent = startSilentServer();
    const r = await upgrade(silent.host, ["--timeout", "4"]);
    await assertRefused(r, silent.host, { seconds: 20, match: /time budget ran out/ });
    assert.equal(silent.accepted, 1, "no retries of a request that got no answer");
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: an 18,000-layer .sig naming one 1 MiB payload fetches it once",
  async fn() {
    const payload = new Uint8Array(1024 * 1024).fill(0x41);
    const layer = {
      mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
      digest: sha256Digest(payload),
      size: payload.length,
      annotations: { "dev.cosignproject.cosign/signature": "MEUCIQ==" },
    };
    const sig = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: IMAGE.bytes.length ? JSON.parse(new TextDecoder().decode(IMAGE.bytes)).config : {},
      layers: Array.from({ length: 18_000 }, () => layer),
    }));
    await using reg = startHostileRegistry((req, url) => {
      if (url.pathname === `/v2/dz/app/manifests/${SIG_TAG}`) {
        return manifestResponse(sig, OCI_MANIFEST, req.method === "HEAD");
      }
      if (url.pathname === `/v2/dz/app/blobs/${layer.digest}`) return new Response(payload);
      return base(req, url);
    });
    await assertOneSignatureLeft(await upgrade(reg.host), reg.host);
    assert.ok(reg.count(/\/blobs\//) <= 1, `payload fetched ${reg.count(/\/blobs\//)} times`);
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: a .sig with 18,000 distinct layers is refused before any fetch",
  async fn() {
    const payload = enc.encode("{}");
    const sig = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: JSON.parse(new TextDecoder().decode(IMAGE.bytes)).config,
      layers: Array.from({ length: 18_000 }, (_, i) => ({
        mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
        digest: sha256Digest(payload),
        size: payload.length,
        annotations: { "dev.cosignproject.cosign/signature": btoa(String(i)) },
      })),
    }));
    await using reg = startHostileRegistry((req, url) => {
      if (url.pathname === `/v2/dz/app/manifests/${SIG_TAG}`) {
        return manifestResponse(sig, OCI_MANIFEST, req.method === "HEAD");
      }
      if (url.pathname.includes("/blobs/")) return new Response(payload);
      return base(req, url);
    });
    const r = await upgrade(reg.host);
    await assertRefused(r, reg.host, { code: 1, seconds: 60, match: /18000 distinct layers.*64/ });
    assert.equal(reg.count(/\/blobs\//), 0);
  },
});

/** A bundle referrer manifest whose one layer is `bundle`. */
function referrer(bundle: Uint8Array, n = 0) {
  const type = "application/vnd.dev.sigstore.bundle.v0.3+json";
  const empty = enc.encode("{}");
  const bytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: type,
    config: {
      mediaType: "application/vnd.oci.empty.v1+json",
      digest: sha256Digest(empty),
      size: 2,
    },
    layers: [{ mediaType: type, digest: sha256Digest(bundle), size: bundle.length }],
    subject: { mediaType: OCI_MANIFEST, digest: IMAGE.digest, size: IMAGE.bytes.length },
    annotations: { n: String(n) },
  }));
  return {
    bytes,
    descriptor: {
      mediaType: OCI_MANIFEST,
      artifactType: type,
      digest: sha256Digest(bytes),
      size: bytes.length,
    },
  };
}

function referrersRegistry(
  index: Uint8Array,
  manifests: Map<string, Uint8Array>,
  blobs: Map<string, Uint8Array>,
): HostileRegistry {
  return startHostileRegistry((req, url) => {
    if (url.pathname === `/v2/dz/app/referrers/${IMAGE.digest}`) {
      return manifestResponse(index, OCI_INDEX);
    }
    const m = url.pathname.match(/^\/v2\/dz\/app\/manifests\/(sha256:[a-f0-9]{64})$/);
    if (m && manifests.has(m[1])) {
      return manifestResponse(manifests.get(m[1])!, OCI_MANIFEST, req.method === "HEAD");
    }
    const b = url.pathname.match(/^\/v2\/dz\/app\/blobs\/(sha256:[a-f0-9]{64})$/);
    if (b && blobs.has(b[1])) return new Response(blobs.get(b[1])! as BodyInit);
    return base(req, url);
  });
}

Deno.test({
  ...opts,
  name: "hostile registry: a referrer listed 100 times with a 4 MiB bundle is read once",
  async fn() {
    const bundle = enc.encode(`{"mediaType":"x","pad":"${"a".repeat(4 * 1024 * 1024 - 40)}"}`);
    const ref = referrer(bundle);
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: Array.from({ length: 100 }, () => ref.descriptor),
    }));
    await using reg = referrersRegistry(
      index,
      new Map([[ref.descriptor.digest, ref.bytes]]),
      new Map([[sha256Digest(bundle), bundle]]),
    );
    await assertOneSignatureLeft(await upgrade(reg.host), reg.host);
    assert.equal(reg.count(/\/blobs\//), 1, "the bundle is fetched once");
    assert.equal(reg.count(new RegExp(`GET /v2/dz/app/manifests/${ref.descriptor.digest}`)), 1);
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: more than 64 bundle referrers is refused, not truncated",
  async fn() {
    const bundle = enc.encode('{"mediaType":"x"}');
    const refs = Array.from({ length: 65 }, (_, i) => referrer(bundle, i));
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: refs.map((r) => r.descriptor),
    }));
    await using reg = referrersRegistry(
      index,
      new Map(refs.map((r) => [r.descriptor.digest, r.bytes])),
      new Map([[sha256Digest(bundle), bundle]]),
    );
    const r = await upgrade(reg.host);
    await assertRefused(r, reg.host, {
      code: 1,
      seconds: 60,
      match: /65 distinct bundle referrers, more than the 64/,
    });
    assert.equal(reg.count(/\/blobs\//), 0);
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: --tag '%2e%2e/%2e%2e/x' is a usage error, nothing is sent",
  async fn() {
    await using reg = startHostileRegistry(base);
    const r = await upgrade(reg.host, ["--tag", "%2e%2e/%2e%2e/x"]);
    assert.equal(r.run.code, 2, r.run.stderr);
    assert.equal(r.run.stderr.trim().split("\n").length, 1, r.run.stderr);
    assert.match(r.run.stderr, /not a valid tag/);
    assert.equal(reg.count(/manifests/), 0, reg.seen.join(", "));
  },
});

Deno.test({
  ...opts,
  name:
    "hostile registry: endless signature payload, bundle and referrers bodies stop at their limits",
  async fn() {
    const sigLayer = {
      mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
      digest: sha256Digest("p"),
      size: 1000,
      annotations: { "dev.cosignproject.cosign/signature": "MEUCIQ==" },
    };
    const sig = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: JSON.parse(new TextDecoder().decode(IMAGE.bytes)).config,
      layers: [sigLayer],
    }));
    // Each kind of body in turn is endless; the others are absent.
    for (const kind of ["payload", "referrers", "bundle"] as const) {
      const bundle = referrer(enc.encode("x".repeat(5000)));
      const index = enc.encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [bundle.descriptor],
      }));
      await using reg = startHostileRegistry((req, url) => {
        const endless = () =>
          new Response(endlessBody(), { headers: { "content-type": OCI_INDEX } });
        if (kind === "payload") {
          if (url.pathname === `/v2/dz/app/manifests/${SIG_TAG}`) {
            return manifestResponse(sig, OCI_MANIFEST, req.method === "HEAD");
          }
          if (url.pathname === `/v2/dz/app/blobs/${sigLayer.digest}`) return endless();
        }
        if (url.pathname === `/v2/dz/app/referrers/${IMAGE.digest}`) {
          return kind === "referrers" ? endless() : manifestResponse(index, OCI_INDEX);
        }
        if (url.pathname === `/v2/dz/app/manifests/${bundle.descriptor.digest}`) {
          return manifestResponse(bundle.bytes, OCI_MANIFEST, req.method === "HEAD");
        }
        if (url.pathname.includes("/blobs/")) return endless();
        return base(req, url);
      });
      const r = await upgrade(reg.host);
      // A payload past its descriptor's size is tampered data (exit 1); so is a bundle,
      // dropped as unreadable, which leaves no signature; an endless referrers index is
      // refused at 4 MiB (exit 3).
      const match = {
        payload: /more than the 1000 bytes its descriptor declares/,
        bundle: /no signatures found/,
        referrers: /referrers index of more than the 4194304 bytes/,
      }[kind];
      await assertRefused(r, reg.host, {
        code: kind === "referrers" ? 3 : 1,
        seconds: 30,
        namesHost: kind !== "bundle",
        match,
      });
    }
  },
});

Deno.test({
  ...opts,
  name: "hostile registry: an index of 1025 entries, 10,001 tags or endless tag pages are refused",
  async fn() {
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: Array.from({ length: 1025 }, () => ({
        mediaType: OCI_MANIFEST,
        digest: IMAGE.digest,
        size: IMAGE.bytes.length,
        platform: { os: "linux", architecture: "amd64" },
      })),
    }));
    let pages = 0;
    await using reg = startHostileRegistry((_req, url) => {
      if (url.pathname === "/v2/a/index/manifests/latest") {
        return manifestResponse(index, OCI_INDEX);
      }
      if (url.pathname === "/v2/a/many/tags/list") {
        const tags = Array.from({ length: 10_001 }, (_, i) => `t${i}`);
        return new Response(JSON.stringify({ name: "a/many", tags }));
      }
      if (url.pathname === "/v2/a/one/tags/list") {
        return new Response(JSON.stringify({ tags: ["v1", "v1", "%2e%2e/x", "v2", 7] }));
      }
      if (url.pathname === "/v2/a/dup/tags/list") {
        // The same tags again and again, page after page, plus names that are not tags.
        pages++;
        return new Response(JSON.stringify({ tags: ["v1", "v1", "../x", "v2"] }), {
          headers: { link: `</v2/a/dup/tags/list?page=${pages}>; rel="next"` },
        });
      }
      return undefined;
    });
    const client = new RegistryClient(reg.host);
    await assert.rejects(
      client.getManifest("a/index", "latest"),
      (e) => e instanceof VerificationError && /1025 entries, more than the 1024/.test(e.message),
    );
    await assert.rejects(
      client.listTags("a/many"),
      (e) => e instanceof VerificationError && /10001 tags, more than the 10000/.test(e.message),
    );
    await assert.rejects(
      client.listTags("a/dup"),
      (e) => e instanceof VerificationError && /101 pages of tags/.test(e.message),
    );
    assert.equal(pages, 100);
    assert.deepEqual(await client.listTags("a/one"), ["v1", "v2"]);
    client.close();
  },
});

Deno.test({
  ...opts,
  name:
    "hostile registry: prepare-archive refuses a .sig manifest that is not JSON, writes nothing",
  async fn() {
    await using reg = startHostileRegistry((req, url) => {
      if (url.pathname === `/v2/dz/app/manifests/${SIG_TAG}`) {
        return manifestResponse(enc.encode("not json"), OCI_MANIFEST, req.method === "HEAD");
      }
      return base(req, url);
    });
    const dir = await Deno.makeTempDir({ prefix: "dz-hostile-" });
    const output = join(dir, "a.tar");
    const root = new URL("../lib/trust/public_good_trusted_root.json", import.meta.url).pathname;
    const run = await runCli(
      ["prepare-archive", `${reg.host}/dz/app`, "--output", output, "--trusted-root", root],
      { killAfterMs: 60_000, env: { HOME: dir } },
    );
    // Once an "unexpected error" (exit 3): a refusal naming the source and the manifest.
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`${reg.host}/dz/app: the \\.sig manifest of sha256:.* is not JSON`),
    );
    assert.equal(await exists(output), false, "nothing written");
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith("a.tar"));
    assert.deepEqual(left, [], "no partial archive left");
    // One GET of the .sig tag, no HEAD first.
    assert.equal(reg.count(new RegExp(`/manifests/${SIG_TAG}`)), 1, reg.seen.join(", "));
    await Deno.remove(dir, { recursive: true });
  },
});
