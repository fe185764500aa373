/**
 * Mutation testing of trust inputs: ≥ 1,000 mutants of the real Dangerzone
 * signatures and slsa-github-generator attestations (fixed seed in CI;
 * `DZ_SEED` / `DZ_MUTANTS` for other runs, or `deno task reliability`),
 * each verified by the real code in a worker under a watchdog. Every real
 * mutant must be rejected with a typed error, the unmodified originals must
 * be accepted, and nothing may crash or hang: the campaign itself runs in
 * `mutation_campaign_*_test.ts` (in shards, in parallel). Here: tests of the
 * harness itself: determinism, no-op classification, the watchdog.
 */

import assert from "node:assert/strict";
import crypto from "node:crypto";
import { testdataOrSkip } from "../helpers/testdata.ts";
import { findings, runMutants } from "./campaign.ts";
import type { ProbeMutant } from "./campaign_protocol.ts";
import { b64, malleateEcdsaP256, unb64 } from "./encoding.ts";
import { mutantKey, signatureListView } from "./mutant.ts";
import { DEFAULT_COUNT, DEFAULT_SEED, generateMutants } from "./mutants.ts";
import { createRng } from "./prng.ts";
import { loadSeeds } from "./seeds.ts";

const ignore = testdataOrSkip("mutation campaign");

Deno.test("prng: a seed always gives the same sequence, another seed another one", () => {
  const take = (seed: number) => {
    const r = createRng(seed);
    return Array.from({ length: 20 }, () => r.int(1_000_000));
  };
  assert.deepEqual(take(42), take(42));
  assert.notDeepEqual(take(42), take(43));
  const r = createRng(1);
  for (let i = 0; i < 1000; i++) {
    const x = r.int(7);
    assert.ok(Number.isInteger(x) && x >= 0 && x < 7);
  }
});

Deno.test({
  name: "mutants: deterministic for a seed, ≥ 1,000 distinct, every family present",
  ignore,
  async fn() {
    const seeds = await loadSeeds();
    const a = generateMutants(seeds, { seed: DEFAULT_SEED, count: DEFAULT_COUNT });
    const b = generateMutants(seeds, { seed: DEFAULT_SEED, count: DEFAULT_COUNT });
    assert.ok(a.mutants.length >= 1000, `${a.mutants.length} mutants`);
    assert.deepEqual(a.mutants.map(mutantKey), b.mutants.map(mutantKey));
    assert.equal(new Set(a.mutants.map(mutantKey)).size, a.mutants.length);
    const c = generateMutants(seeds, { seed: DEFAULT_SEED + 1, count: 50 });
    assert.notDeepEqual(c.mutants.map(mutantKey), a.mutants.slice(0, 50).map(mutantKey));
    const present = new Set(a.mutants.map((m) => m.family));
    for (const f of a.families) assert.ok(present.has(f), `family ${f} never generated`);
    // Most mutants are real changes; no-ops are the exception and all have a reason.
    const noops = a.mutants.filter((m) => m.expected === "either");
    assert.ok(noops.length < a.mutants.length / 10, `${noops.length} no-ops`);
    for (const m of noops) assert.ok(m.noopReason, `#${m.id} no-op without a reason`);
    assert.equal(a.controls.length, seeds.signatures.length + seeds.attestations.length);
  },
});

Deno.test({
  name: "views: same decoded bytes are a no-op, any changed byte or type is not",
  ignore,
  async fn() {
    const seeds = await loadSeeds();
    const s = seeds.signatures[0];
    const entry = s.entries[0] as Record<string, unknown>;
    const view = (e: unknown, digest = s.digest) => signatureListView(JSON.stringify([e]), digest);
    const base = view(entry);
    // Base64 whose last character differs only in padding bits decodes to the same bytes.
    const padded = ["Base64Signature", "Payload"].find((k) => String(entry[k]).endsWith("="))!;
    const text = String(entry[padded]);
    const m = /([A-Za-z0-9+/])(=+)$/.exec(text)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const twin = text.slice(0, m.index) + alphabet[alphabet.indexOf(m[1]) ^ 1] + m[2];
    assert.notEqual(twin, text);
    assert.deepEqual(unb64(twin), unb64(text));
    assert.equal(view({ ...entry, [padded]: twin }), base);
    const sig = String(entry.Base64Signature);
    // Cert / Chain are not part of a key-verified signature.
    assert.equal(view({ ...entry, Cert: "anything", Chain: [] }), base);
    // Real changes.
    const flipped = unb64(sig)!;
    flipped[5] ^= 1;
    assert.notEqual(view({ ...entry, Base64Signature: b64(flipped) }), base);
    assert.notEqual(view({ ...entry, Base64Signature: `${sig}\n` }), base);
    const bundle = structuredClone(entry.Bundle) as { Payload: Record<string, unknown> };
    bundle.Payload.logIndex = String(bundle.Payload.logIndex);
    assert.notEqual(view({ ...entry, Bundle: bundle }), base);
    assert.notEqual(view(entry, seeds.signatures[1].digest), base);
  },
});

Deno.test({
  name: "malleation: the high-S twin is still a valid ECDSA signature over the same payload",
  ignore,
  async fn() {
    // So rejecting it proves the Rekor entry's binding to the exact signature is checked.
    const seeds = await loadSeeds();
    const key = crypto.createPublicKey(await Deno.readTextFile(seeds.keyPath));
    const e = seeds.signatures[0].entries[0];
    const payload = unb64(e.Payload)!;
    const sig = unb64(e.Base64Signature)!;
    const twin = malleateEcdsaP256(sig);
    assert.notDeepEqual(twin, sig);
    assert.ok(crypto.verify("sha256", payload, key, sig));
    assert.ok(crypto.verify("sha256", payload, key, twin));
    assert.deepEqual(malleateEcdsaP256(twin), sig);
  },
});

Deno.test({
  name: "watchdog: hangs and crashes are recorded, and the campaign goes on after a hang",
  async fn() {
    const probe = (id: number, behavior: ProbeMutant["behavior"]): ProbeMutant => ({
      id,
      target: "probe",
      family: `probe.${behavior}`,
      description: behavior,
      expected: behavior === "accept" ? "accept" : "reject",
      behavior,
    });
    const results = await runMutants(
      [
        probe(1, "accept"),
        probe(2, "hang"),
        probe(3, "crash"),
        probe(4, "reject"),
        probe(5, "accept"),
      ],
      { budgetMs: 1_500 },
    );
    assert.deepEqual(results.map((r) => r.outcome), [
      "accepted",
      "hung",
      "crashed",
      "rejected",
      "accepted",
    ]);
    assert.match(results[2].detail ?? "", /TypeError: probe crash/);
    assert.deepEqual(findings(results).map((r) => r.id), [2, 3]);
  },
});
