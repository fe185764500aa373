/**
 * Resumable blob downloads against a real registry (docker-registry on
 * loopback) behind a metering proxy that cuts connections, ignores Range or
 * lies about it: what is fetched again is counted by the proxy.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { command as upgrade } from "../commands/upgrade.ts";
import { startSigningLab } from "./helpers/signed_images.ts";
import { startBlobMeter } from "./helpers/blob_meter.ts";
import { pushBigImage } from "../bench/helpers/big_image.ts";
import { RegistryClient } from "../lib/registry/client.ts";
import { ResumeStore } from "../lib/transfer/resume_store.ts";
import { fetchBlobResumable } from "../lib/transfer/resumable_blob.ts";
import { DigestMismatchError, NetworkError, RegistryError } from "../lib/errors/errors.ts";
import { OciLayout } from "../lib/oci/layout.ts";
import { sha256Digest } from "../lib/digest/digest.ts";

const MiB = 1024 * 1024;

async function run(args: string[]) {
  let out = "";
  let err = "";
  const code = await upgrade.main(args, {
    out: (t) => (out += `${t}\n`),
    err: (t) => (err += `${t}\n`),
  });
  return { code, out, err };
}

async function layersOf(lab: { client: RegistryClient }, repo: string, digest: string) {
  const m = await lab.client.getManifest(repo, digest);
  return (JSON.parse(new TextDecoder().decode(m.bytes)) as {
    layers: { digest: string; size: number }[];
  }).layers;
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch {
    // absent
  }
  return out;
}

Deno.test({
  name: "resume: a blob cut mid-transfer continues by Range, in the same run (upgrade)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/resume";
    const big = await pushBigImage(lab.client, repo, "latest", { layerMiB: 2 });
    await lab.sign(repo, big.digest);
    const layers = await layersOf(lab, repo, big.digest);
    const cut = layers[1];
    await using meter = startBlobMeter(lab.reg.url, {
      plan: (d, n) => d === cut.digest && n === 1 ? { cutAfter: Math.floor(cut.size / 2) } : {},
    });
    const data = join(lab.dir, "data");
    const store = join(lab.dir, "store");
    const r = await run([
      `${meter.host}/${repo}`,
      ...[...lab.trustArgs, "--data-dir", data],
      ...["--runtime", `oci:${store}`, "--progress", "none"],
      ...["--signed-identity", `${lab.reg.host}/${repo}`],
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Upgraded /);
    const gets = meter.requests.filter((q) => q.digest === cut.digest);
    assert.equal(gets.length, 2, JSON.stringify(gets));
    assert.equal(gets[0].range, null);
    assert.equal(gets[1].status, 206);
    const from = Number(/^bytes=(\d+)-$/.exec(gets[1].range ?? "")?.[1]);
    assert.ok(from > 0 && from <= gets[0].sent, `resumed from ${from} after ${gets[0].sent}`);
    // Only what was missing came again: the whole blob crossed the link about once.
    assert.equal(gets[1].sent, cut.size - from);
    for (const l of layers.filter((l) => l.digest !== cut.digest)) {
      assert.equal(meter.sent(l.digest), l.size);
    }
    assert.ok(await (await OciLayout.open(store)).hasVerifiedBlob(cut));
    // The resume area is empty again, and private.
    assert.deepEqual(await filesUnder(join(data, "partial")), []);
    assert.equal((await Deno.stat(join(data, "partial"))).mode! & 0o777, 0o700);
  },
});

Deno.test({
  name:
    "resume: the next run continues from the kept partial (re-hashed); Range ignored (200) restarts from 0; a wrong 206 is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await startSigningLab();
    const repo = "dz/resume2";
    const big = await pushBigImage(lab.client, repo, "latest", { layerMiB: 1, layers: 1 });
    const [layer] = await layersOf(lab, repo, big.digest);
    const bytes = await lab.client.getBlobBytes(repo, layer, 8 * MiB);
    const store = new ResumeStore(join(lab.dir, "partial"));

    // Run 1: every GET is cut; a few retries, then it gives up, keeping what came.
    {
      await using meter = startBlobMeter(lab.reg.url, {
        plan: (_d, n) => ({ cutAfter: 200 * 1024 * n }),
      });
      const client = new RegistryClient(meter.host);
      await assert.rejects(
        fetchBlobResumable(client, repo, layer, store, { attempts: 2, retryBaseMs: 1 }),
        NetworkError,
      );
      client.close();
      assert.equal(meter.requests.length, 2);
      assert.equal(meter.requests[1].range, `bytes=${meter.requests[0].sent}-`);
    }
    const kept = (await Deno.stat(store.path(layer.digest))).size;
    assert.ok(kept > 0 && kept < layer.size, `kept ${kept}`);
    assert.equal((await Deno.stat(store.path(layer.digest))).mode! & 0o777, 0o600);

    // Run 2: continues from the kept bytes; only the rest crosses the link.
    {
      await using meter = startBlobMeter(lab.reg.url);
      const client = new RegistryClient(meter.host);
      const path = await fetchBlobResumable(client, repo, layer, store);
      client.close();
      assert.deepEqual(meter.requests.map((q) => [q.range, q.status]), [[`bytes=${kept}-`, 206]]);
      assert.equal(meter.sent(), layer.size - kept);
      assert.equal(sha256Digest(await Deno.readFile(path)), layer.digest);
      await store.remove(layer.digest);
    }

    // A registry that ignores Range: 200 with the whole blob, taken from byte 0.
    await Deno.writeFile(store.path(layer.digest), bytes.subarray(0, 300 * 1024));
    {
      await using meter = startBlobMeter(lab.reg.url, { plan: () => ({ ignoreRange: true }) });
      const client = new RegistryClient(meter.host);
      const path = await fetchBlobResumable(client, repo, layer, store);
      client.close();
      assert.deepEqual(meter.requests.map((q) => [q.range, q.status]), [["bytes=307200-", 200]]);
      assert.equal(meter.sent(), layer.size);
      assert.equal(sha256Digest(await Deno.readFile(path)), layer.digest);
      await store.remove(layer.digest);
    }

    // A kept prefix whose bytes are wrong (never trusted): found by the digest, fetched again from 0.
    const wrong = bytes.slice(0, 300 * 1024);
    wrong[1000] ^= 0xff;
    await Deno.writeFile(store.path(layer.digest), wrong);
    {
      await using meter = startBlobMeter(lab.reg.url);
      const client = new RegistryClient(meter.host);
      const path = await fetchBlobResumable(client, repo, layer, store);
      client.close();
      assert.deepEqual(meter.requests.map((q) => [q.range, q.status]), [
        ["bytes=307200-", 206],
        [null, 200],
      ]);
      assert.equal(sha256Digest(await Deno.readFile(path)), layer.digest);
      await store.remove(layer.digest);
    }

    // A 206 for another range than asked: refused, the partial dropped.
    await Deno.writeFile(store.path(layer.digest), bytes.subarray(0, 300 * 1024));
    {
      await using meter = startBlobMeter(lab.reg.url, { plan: () => ({ badRange: true }) });
      const client = new RegistryClient(meter.host);
      await assert.rejects(
        fetchBlobResumable(client, repo, layer, store),
        (e) => e instanceof RegistryError && /Content-Range 'bytes 0-/.test(e.message),
      );
      client.close();
      assert.equal(meter.requests.length, 1);
      assert.deepEqual(await filesUnder(store.dir), []);
    }

    // A registry sending more than the descriptor says through a 200: refused as tampered.
    await using meter = startBlobMeter(lab.reg.url);
    const client = new RegistryClient(meter.host);
    await assert.rejects(
      fetchBlobResumable(client, repo, { ...layer, size: layer.size - 1 }, store),
      (e) => e instanceof RegistryError || e instanceof DigestMismatchError,
    );
    client.close();
    assert.deepEqual(await filesUnder(store.dir), []);
  },
});

Deno.test("resume: stale partials are swept by age and by the size cap", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const now = Date.now();
    const store = new ResumeStore(join(dir, "partial"), { maxAgeMs: 1000, maxBytes: 2500 });
    await Deno.mkdir(store.dir, { mode: 0o700 });
    const hex = (c: string) => c.repeat(64);
    const put = async (name: string, size: number, ageMs: number) => {
      await Deno.writeFile(join(store.dir, name), new Uint8Array(size));
      const t = new Date(now - ageMs);
      await Deno.utime(join(store.dir, name), t, t);
    };
    await put(hex("a"), 10, 5000); // too old
    await put(hex("b"), 1000, 300); // oldest of the rest: over the cap
    await put(hex("c"), 1000, 200);
    await put(hex("d"), 1000, 100);
    await put("not-a-partial", 1, 0);
    const kept = await store.open({ digest: `sha256:${hex("e")}`, size: 100 });
    kept.close();
    assert.deepEqual((await filesUnder(store.dir)).sort(), [hex("c"), hex("d"), hex("e")]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
