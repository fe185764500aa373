/**
 * The mutation campaign (see `mutation_test.ts`): ≥ 1,000 mutants of the
 * real Dangerzone signatures and slsa-github-generator attestations, each
 * verified by the real code in a worker under a watchdog. Run in shards
 * (`mutation_campaign_1_test.ts`, `mutation_campaign_2_test.ts`: every
 * other mutant each, and every control in both) so that the test files run
 * in parallel; `deno task reliability` runs the whole campaign in one go.
 *
 * @module
 */

import assert from "node:assert/strict";
import { testdataOrSkip } from "../helpers/testdata.ts";
import { findings, formatTable, runMutants, summarize } from "./campaign.ts";
import { DEFAULT_COUNT, DEFAULT_SEED, generateMutants } from "./mutants.ts";
import { loadSeeds } from "./seeds.ts";

/** How many shards the campaign is run in. */
export const SHARDS = 2;

/** The `ignore` value of the campaign tests (the real test data is needed). */
export const campaignIgnore: boolean = testdataOrSkip("mutation campaign");

function envInt(name: string, fallback: number): number {
  const v = Deno.env.get(name);
  return v === undefined || v === "" ? fallback : Number(v);
}

/**
 * Run shard `shard` (0-based) of `shards`: every mutant must be rejected with
 * a typed error and exit 1, every control accepted, nothing may crash or hang.
 */
export async function runCampaignShard(shard: number, shards = SHARDS): Promise<void> {
  const seed = envInt("DZ_SEED", DEFAULT_SEED);
  const count = envInt("DZ_MUTANTS", DEFAULT_COUNT);
  const campaign = generateMutants(await loadSeeds(), { seed, count });
  assert.ok(campaign.mutants.length >= Math.min(count, 1000));
  // This shard's mutants (every `shards`-th), and every control.
  const mine = campaign.mutants.filter((_, i) => i % shards === shard);
  const all = [...campaign.controls, ...mine];
  const results = await runMutants(all);
  const { rows, total } = summarize(results, ["control", ...campaign.families]);
  const bad = findings(results);
  const report = bad.map((f) => {
    const m = all.find((x) => x.id === f.id)!;
    return `${f.outcome} #${f.id} [${f.family}] ${m.description}\n  ${f.detail ?? ""}\n  ` +
      `reproduce: DZ_SEED=${seed} DZ_MUTANTS=${count} deno test -A tests/reliability/mutation_campaign_${
        shard + 1
      }_test.ts`;
  });
  assert.deepEqual(report, [], `\n${formatTable(rows, total)}\n\n${report.join("\n")}`);
  // Controls verified, so the rejections are the verifier's doing, not the harness's.
  const controls = results.filter((r) => r.family === "control");
  assert.equal(controls.length, campaign.controls.length);
  assert.ok(controls.every((r) => r.outcome === "accepted"));
  assert.equal(total.accepted + total.crashed + total.hung, 0);
  // Every rejection maps to "refused" (exit 1): these are trust inputs.
  const notExit1 = results.filter((r) => r.outcome === "rejected" && r.exitCode !== 1);
  assert.deepEqual(notExit1.map((r) => `${r.family} #${r.id} ${r.code}`), []);
}
