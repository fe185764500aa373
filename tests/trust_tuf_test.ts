/**
 * The trusted root through TUF, against a real TUF repository on loopback
 * (metadata built and signed with `@tufjs/models`): refresh, key rotation,
 * an expired timestamp, a rolled-back timestamp, a forged target hash, a
 * forged root rotation, offline use of the cache and of the anchor; and the
 * chain carried to an air-gapped machine (newer accepted; tampered, older,
 * unsigned, expired refused, the cache unchanged).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startTufRepo } from "./helpers/tuf_repo.ts";
import { newTufKey } from "./helpers/tuf_repo.ts";
import { snapshot } from "./helpers/files.ts";
import { adoptCarriedChain, chainToCarry, resolveTrust } from "../lib/trust/trust_source.ts";
import type { TufAnchor } from "../lib/trust/tuf_anchor.ts";
import { httpTufFetcher } from "../lib/trust/tuf_fetch.ts";
import { readChainFiles, tufCacheDir } from "../lib/trust/tuf_cache.ts";
import publicGood from "../lib/trust/public_good_trusted_root.json" with { type: "json" };

const enc = new TextEncoder();
const DAY = 86_400_000;

/** Distinct valid trusted roots (the public-good one with a marker in its media-type-free field). */
function trustedRootVariant(n: number): Uint8Array {
  const doc = structuredClone(publicGood) as Record<string, unknown>;
  const tlogs = doc.tlogs as { baseUrl: string }[];
  tlogs[0] = { ...tlogs[0], baseUrl: `https://rekor-${n}.example` };
  return enc.encode(JSON.stringify(doc));
}

function baseUrlOf(state: { root: { json: Record<string, unknown> } }): string {
  return (state.root.json.tlogs as { baseUrl: string }[])[0].baseUrl;
}

async function setup() {
  const repo = await startTufRepo();
  const dir = await Deno.makeTempDir({ prefix: "dz-tuf-" });
  const anchor: TufAnchor = {
    url: repo.url,
    root: repo.roots[0],
    source: "test-anchor",
    trustedRoot: trustedRootVariant(0),
  };
  const warnings: string[] = [];
  const resolve = (dataDir: string, refresh: "never" | "if-expired" | "always", a = anchor) =>
    resolveTrust({
      dataDir,
      anchor: a,
      refresh,
      warn: (l) => warnings.push(l),
      fetcher: () => httpTufFetcher(a.url),
    });
  return {
    repo,
    dir,
    anchor,
    warnings,
    resolve,
    async [Symbol.asyncDispose]() {
      await repo.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("tuf: refresh, cache reuse, key rotation, and every refused update leaves the cache as it was", async () => {
  await using t = await setup();
  const data = join(t.dir, "data");
  t.repo.publish(trustedRootVariant(1));

  // Offline with nothing cached: the anchor's own target, no request.
  let s = await t.resolve(data, "never");
  assert.equal(s.origin, "embedded");
  assert.equal(baseUrlOf(s), "https://rekor-0.example");
  assert.equal(t.repo.requests.length, 0);

  // Refresh: the chain verifies from the anchor; the target is cached.
  s = await t.resolve(data, "if-expired");
  assert.equal(s.origin, "tuf-refresh", t.warnings.join("\n"));
  assert.equal(baseUrlOf(s), "https://rekor-1.example");
  assert.equal(s.tuf?.rootVersion, 1);
  assert.equal(s.tuf?.expired, false);
  const cacheDir = tufCacheDir(data, t.repo.url);
  assert.deepEqual(
    [...(await readChainFiles(cacheDir)).keys()].sort(),
    ["1.root.json", "snapshot.json", "targets.json", "timestamp.json", "trusted_root.json"],
  );

  // Not expired: no network at all, the cache is used.
  const before = t.repo.requests.length;
  s = await t.resolve(data, "if-expired");
  assert.equal(s.origin, "tuf-cache");
  assert.equal(baseUrlOf(s), "https://rekor-1.example");
  assert.equal(t.repo.requests.length, before);

  // Key rotation: root v2 (signed by the v1 and v2 root keys) with new
  // timestamp and root keys; the new metadata is signed by the new keys only.
  t.repo.rotate({ root: newTufKey(), timestamp: newTufKey() });
  t.repo.publish(trustedRootVariant(2));
  s = await t.resolve(data, "always");
  assert.equal(s.origin, "tuf-refresh", t.warnings.join("\n"));
  assert.equal(s.tuf?.rootVersion, 2);
  assert.equal(baseUrlOf(s), "https://rekor-2.example");
  assert.ok((await readChainFiles(cacheDir)).has("2.root.json"));

  // A forged rotation: root v3 signed by a key v2 does not trust.
  const good = await snapshot(cacheDir);
  const forger = newTufKey();
  const forged = JSON.parse(new TextDecoder().decode(t.repo.roots[1]));
  forged.signed.version = 3;
  forged.signatures = [{ keyid: forger.key.keyID, sig: "00".repeat(64) }];
  t.repo.files.set("3.root.json", enc.encode(JSON.stringify(forged)));
  t.warnings.length = 0;
  s = await t.resolve(data, "always");
  assert.equal(s.origin, "tuf-cache");
  assert.equal(baseUrlOf(s), "https://rekor-2.example");
  assert.match(t.warnings.join("\n"), /cannot refresh.*(Unsigned|signature|threshold)/i);
  assert.deepEqual(await snapshot(cacheDir), good);
  t.repo.files.delete("3.root.json");

  // A forged target: the served trusted_root.json does not match the signed hash.
  const oldTimestamp = t.repo.files.get("timestamp.json")!;
  t.repo.publish(trustedRootVariant(3));
  const targetPath = [...t.repo.files.keys()].find((k) =>
    k.startsWith("targets/") && new TextDecoder().decode(t.repo.files.get(k)).includes("rekor-3")
  )!;
  const genuine = t.repo.files.get(targetPath)!;
  const evil = trustedRootVariant(666);
  t.repo.files.set(targetPath, evil);
  t.warnings.length = 0;
  s = await t.resolve(data, "always");
  assert.equal(baseUrlOf(s), "https://rekor-2.example");
  assert.match(t.warnings.join("\n"), /cannot refresh.*(length|hash)/i);
  assert.deepEqual(await snapshot(cacheDir), good);
  t.repo.files.set(targetPath, genuine);

  // Accept the genuine v3 target, then roll the timestamp back to an older version.
  s = await t.resolve(data, "always");
  assert.equal(baseUrlOf(s), "https://rekor-3.example", t.warnings.join("\n"));
  const fresh = await snapshot(cacheDir);
  t.repo.files.set("timestamp.json", oldTimestamp);
  t.warnings.length = 0;
  s = await t.resolve(data, "always");
  assert.equal(baseUrlOf(s), "https://rekor-3.example");
  assert.match(t.warnings.join("\n"), /cannot refresh.*(version|signature)/i);
  assert.deepEqual(await snapshot(cacheDir), fresh);

  // An expired timestamp (a freeze): refused, the cached root is used.
  t.repo.publish(trustedRootVariant(4), { timestampExpires: new Date(Date.now() - DAY) });
  t.warnings.length = 0;
  s = await t.resolve(data, "always");
  assert.equal(baseUrlOf(s), "https://rekor-3.example");
  assert.match(t.warnings.join("\n"), /cannot refresh.*expired/i);
  assert.deepEqual(await snapshot(cacheDir), fresh);

  // No network: one warning, the cache is used, never a failure.
  await t.repo.close();
  t.warnings.length = 0;
  s = await t.resolve(data, "always");
  assert.equal(s.origin, "tuf-cache");
  assert.equal(t.warnings.length, 1);
  assert.match(
    t.warnings[0],
    /^warning: cannot refresh .*; using the cached root \(TUF root v2\)$/,
  );
});

Deno.test("tuf: a carried chain is adopted only when it verifies from the local anchor and is not older", async () => {
  await using t = await setup();
  const online = join(t.dir, "online");
  const airgap = join(t.dir, "airgap");
  t.repo.publish(trustedRootVariant(1));
  const first = await t.resolve(online, "always");
  const chainV1 = (await chainToCarry(first))!;
  t.repo.rotate({ root: newTufKey(), snapshot: newTufKey() });
  t.repo.publish(trustedRootVariant(2));
  const second = await t.resolve(online, "always");
  assert.equal(second.tuf?.rootVersion, 2, t.warnings.join("\n"));
  const chainV2 = (await chainToCarry(second))!;
  assert.ok(chainV2.has("1.root.json") && chainV2.has("2.root.json"));
  const adopt = (files: ReadonlyMap<string, Uint8Array>) =>
    adoptCarriedChain({
      dataDir: airgap,
      anchor: t.anchor,
      files,
      warn: (l) => t.warnings.push(l),
    });
  const airCache = tufCacheDir(airgap, t.repo.url);

  // Tampered target: refused, nothing cached.
  const tampered = new Map(chainV2);
  tampered.set("trusted_root.json", trustedRootVariant(666));
  t.warnings.length = 0;
  assert.equal(await adopt(tampered), undefined);
  assert.match(t.warnings.join("\n"), /archive's Sigstore trusted root is refused/);
  assert.equal((await readChainFiles(airCache)).size, 0);

  // Unsigned timestamp: refused.
  const unsigned = new Map(chainV2);
  const ts = JSON.parse(new TextDecoder().decode(chainV2.get("timestamp.json")));
  ts.signatures = [];
  unsigned.set("timestamp.json", enc.encode(JSON.stringify(ts)));
  assert.equal(await adopt(unsigned), undefined);
  // A chain with root v2 but without the v2 root (the anchor cannot reach its keys): refused.
  const gap = new Map(chainV2);
  gap.delete("2.root.json");
  assert.equal(await adopt(gap), undefined);
  assert.equal((await readChainFiles(airCache)).size, 0);

  // The genuine newer chain: accepted and kept.
  const s = await adopt(chainV2);
  assert.equal(s?.origin, "tuf-archive", t.warnings.join("\n"));
  assert.equal(s?.tuf?.rootVersion, 2);
  assert.equal(baseUrlOf(s!), "https://rekor-2.example");
  const kept = await snapshot(airCache);
  const later = await resolveTrust({ dataDir: airgap, anchor: t.anchor, refresh: "never" });
  assert.equal(later.origin, "tuf-cache");
  assert.equal(baseUrlOf(later), "https://rekor-2.example");

  // An older chain (root v1 era, older timestamp): refused, the newer one stays.
  t.warnings.length = 0;
  assert.equal(await adopt(chainV1), undefined);
  assert.match(t.warnings.join("\n"), /refused \(TUF metadata refused: .*(version|signed by)/);
  assert.deepEqual(await snapshot(airCache), kept);

  // An expired chain: refused.
  t.repo.publish(trustedRootVariant(3), { timestampExpires: new Date(Date.now() - DAY) });
  const online2 = join(t.dir, "online2");
  await Deno.mkdir(tufCacheDir(online2, t.repo.url), { recursive: true });
  const expiredChain = new Map(chainV2);
  expiredChain.set("timestamp.json", t.repo.files.get("timestamp.json")!);
  for (const [k, v] of t.repo.files) {
    if (/^\d+\.snapshot\.json$/.test(k)) expiredChain.set("snapshot.json", v);
    if (/^\d+\.targets\.json$/.test(k)) expiredChain.set("targets.json", v);
  }
  expiredChain.set("trusted_root.json", trustedRootVariant(3));
  t.warnings.length = 0;
  assert.equal(await adopt(expiredChain), undefined);
  assert.match(t.warnings.join("\n"), /expired/i);
  assert.deepEqual(await snapshot(airCache), kept);
});
