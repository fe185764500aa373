/**
 * `deno task reliability [--seed N] [--count N] [--budget-ms N] [--no-faults] [--json]`
 *
 * Runs the mutation campaign over the real trust inputs in
 * `../shared/testdata` (controls + `--count` mutants generated from
 * `--seed`, default: the CI seed and size; `DZ_SEED` / `DZ_MUTANTS` work
 * too), the rollback attack families (`rollback_attacks.ts`, real entries in
 * a loopback Rekor) and, unless `--no-faults`, the registry fault cases against a local
 * registry; prints the table of case families (tried, rejected, accepted,
 * crashed, hung, no-ops, data lost) and every finding with its
 * reproduction. Exit status 1 when anything was accepted, crashed, hung or
 * lost data.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  DEFAULT_BUDGET_MS,
  type FamilyRow,
  findings,
  formatTable,
  runMutants,
  summarize,
} from "../tests/reliability/campaign.ts";
import { DEFAULT_COUNT, DEFAULT_SEED, generateMutants } from "../tests/reliability/mutants.ts";
import { loadSeeds } from "../tests/reliability/seeds.ts";
import { runRollbackCases } from "../tests/reliability/rollback_attacks.ts";
import { TESTDATA_DIR, testdataPresent } from "../tests/helpers/testdata.ts";

function intOption(value: string | undefined, env: string, fallback: number, name: string): number {
  const raw = value ?? Deno.env.get(env);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`error: ${name} must be a non-negative integer, got '${raw}'`);
    Deno.exit(2);
  }
  return n;
}

async function faultRows(): Promise<{ rows: FamilyRow[]; problems: string[] } | undefined> {
  const { runFaultCases } = await import("../tests/reliability/registry_faults.ts");
  return await runFaultCases();
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seed: { type: "string" },
      count: { type: "string" },
      "budget-ms": { type: "string" },
      "no-faults": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task reliability [--seed N] [--count N] [--budget-ms N] [--no-faults] [--json]",
    );
    return 0;
  }
  if (!testdataPresent()) {
    console.error(`error: ${TESTDATA_DIR} is missing (the real signatures are the mutation seeds)`);
    return 3;
  }
  const seed = intOption(values.seed, "DZ_SEED", DEFAULT_SEED, "--seed");
  const count = intOption(values.count, "DZ_MUTANTS", DEFAULT_COUNT, "--count");
  const budgetMs = intOption(values["budget-ms"], "DZ_BUDGET_MS", DEFAULT_BUDGET_MS, "--budget-ms");

  const started = performance.now();
  const seeds = await loadSeeds();
  const campaign = generateMutants(seeds, { seed, count });
  const all = [...campaign.controls, ...campaign.mutants];
  const results = await runMutants(all, {
    budgetMs,
    onResult: (_r, done, total) => {
      if (!values.json && (done % 100 === 0 || done === total)) {
        Deno.stderr.writeSync(new TextEncoder().encode(`\r${done}/${total} mutants`));
      }
    },
  });
  if (!values.json) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  const mutationSeconds = (performance.now() - started) / 1000;
  const { rows, total } = summarize(results, ["control", ...campaign.families]);
  const bad = findings(results);

  const rollback = await runRollbackCases(seed);
  let faults: Awaited<ReturnType<typeof faultRows>>;
  if (!values["no-faults"]) faults = await faultRows();
  const extra = { rows: [...rollback.rows, ...(faults?.rows ?? [])] };
  const allRows = [...rows, ...extra.rows];
  const grand = { ...total, family: "total" };
  for (const r of extra.rows) {
    grand.tried += r.tried;
    grand.rejected += r.rejected;
    grand.accepted += r.accepted;
    grand.crashed += r.crashed;
    grand.hung += r.hung;
    grand.recovered = (grand.recovered ?? 0) + (r.recovered ?? 0);
    grand.dataLost = (grand.dataLost ?? 0) + (r.dataLost ?? 0);
  }
  const problems = [...rollback.problems, ...(faults?.problems ?? [])];
  const failed = bad.length > 0 || problems.length > 0;

  if (values.json) {
    console.log(JSON.stringify(
      {
        seed,
        count: campaign.mutants.length,
        controls: campaign.controls.length,
        rows: allRows,
        total: grand,
        findings: bad.map((f) => ({ ...f, mutant: all.find((m) => m.id === f.id)?.description })),
        faultProblems: problems,
      },
      null,
      2,
    ));
    return failed ? 1 : 0;
  }
  console.log(
    `mutation campaign: seed ${seed}, ${campaign.mutants.length} mutants + ${campaign.controls.length} controls, ${
      mutationSeconds.toFixed(1)
    } s`,
  );
  console.log(formatTable(allRows, grand));
  for (const f of bad) {
    const m = all.find((x) => x.id === f.id)!;
    console.log(`\nFINDING ${f.outcome.toUpperCase()} #${f.id} [${f.family}] ${m.description}`);
    if (f.detail) console.log(`  ${f.detail.replace(/\n/g, "\n  ")}`);
    console.log(`  reproduce: deno task reliability --seed ${seed} --count ${count}`);
  }
  for (const p of problems) console.log(`\nCASE PROBLEM: ${p}`);
  console.log(failed ? "\nRESULT: FINDINGS (see above)" : "\nRESULT: every case handled");
  return failed ? 1 : 0;
}

Deno.exit(await main());
