/**
 * Benchmark: start-up cost of the dispatcher. Wall time of
 * `deno run mod.ts --help` (which loads only `mod.ts`: commands are imported
 * lazily) against its anchor, `deno run` of an empty script, and of
 * `deno run mod.ts verify-signatures --help` (one command and its
 * dependencies). The same for the one-file bundle (`scripts/bundle.ts`, built
 * into a temp folder and run with `--no-config` from there), whose target is
 * `--help` within 2× the anchor; the plain `deno bundle mod.ts` output is
 * shown beside it for comparison (it loads Node compatibility up front).
 * Each is run once untimed (warm caches), then the median of N runs is
 * printed with its ratio to the anchor.
 *
 *     deno run -A bench/startup_bench.ts [N]
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildBundle } from "../scripts/bundle.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function once(args: string[]): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const s = (performance.now() - t0) / 1000;
  if (!out.success) {
    throw new Error(`deno ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return s;
}

/** One timed command line, and the anchor its ratio is taken to. */
interface Case {
  label: string;
  args: string[];
  /** Label of the anchor case; none for an anchor. */
  anchor?: string;
  /** Target ratio, if the project has one. */
  target?: number;
}

/**
 * Medians of `n` runs per case, the cases run round-robin (so that load on a
 * shared machine hits all of them alike), after one untimed warm-up each.
 */
async function medians(cases: Case[], n: number): Promise<Map<string, number>> {
  for (const c of cases) await once(c.args); // warm-up: module, code and type caches
  const times = new Map<string, number[]>(cases.map((c) => [c.label, []]));
  for (let i = 0; i < n; i++) {
    for (const c of cases) times.get(c.label)!.push(await once(c.args));
  }
  return new Map(
    [...times].map(([k, v]) => [k, v.sort((a, b) => a - b)[Math.floor(v.length / 2)]]),
  );
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 15);
  const dir = await Deno.makeTempDir();
  try {
    const empty = join(dir, "empty.ts");
    await Deno.writeTextFile(empty, "");
    const bundle = join(dir, "dangerzone-image.js");
    await buildBundle(bundle);
    const plain = join(dir, "plain.js");
    await once(["bundle", "--platform", "deno", "--quiet", "-o", plain, join(ROOT, "mod.ts")]);
    const mod = join(ROOT, "mod.ts");
    const repo = "deno run <empty script> (in the repository, with deno.json)";
    const bare = "deno run --no-config <empty script>";
    const cases: Case[] = [
      { label: repo, args: ["run", empty] },
      { label: "deno run mod.ts --help", args: ["run", mod, "--help"], anchor: repo },
      {
        label: "deno run mod.ts verify-signatures --help",
        args: ["run", mod, "verify-signatures", "--help"],
        anchor: repo,
      },
      { label: bare, args: ["run", "--no-config", empty] },
      {
        label: "deno run --no-config dangerzone-image.js --help",
        args: ["run", "--no-config", bundle, "--help"],
        anchor: bare,
        target: 2,
      },
      {
        label: "deno run --no-config dangerzone-image.js verify-signatures --help",
        args: ["run", "--no-config", bundle, "verify-signatures", "--help"],
        anchor: bare,
      },
      {
        label: "plain `deno bundle mod.ts` output: --help",
        args: ["run", "--no-config", plain, "--help"],
        anchor: bare,
      },
      {
        label: "plain `deno bundle mod.ts` output: verify-signatures --help",
        args: ["run", "--no-config", plain, "verify-signatures", "--help"],
        anchor: bare,
      },
    ];
    const m = await medians(cases, n);
    const fmt = (s: number) => `${(s * 1000).toFixed(1)} ms`.padStart(9);
    console.log(`startup (median of ${n} runs each, round-robin):`);
    for (const c of cases) {
      const s = m.get(c.label)!;
      if (!c.anchor) {
        console.log(`  ${c.label.padEnd(66)} ${fmt(s)}  (anchor)`);
        continue;
      }
      const ratio = s / m.get(c.anchor)!;
      const target = c.target === undefined
        ? ""
        : ` (target ≤ ${c.target}: ${ratio <= c.target ? "met" : "NOT met"})`;
      console.log(`  ${c.label.padEnd(66)} ${fmt(s)}  ratio ${ratio.toFixed(2)}${target}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
