/**
 * Benchmark: start-up cost of the dispatcher. Wall time of
 * `deno run mod.ts --help` (which loads only `mod.ts`: commands are imported
 * lazily) against its anchor, `deno run` of an empty script, and of
 * `deno run mod.ts verify-signatures --help` (one command and its
 * dependencies). Each is run once untimed (warm caches), then the median of
 * N runs is printed with its ratio to the anchor.
 *
 *     deno run -A bench/startup_bench.ts [N]
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

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

async function median(args: string[], n: number): Promise<number> {
  await once(args); // warm-up: module and type caches
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await once(args));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 15);
  const dir = await Deno.makeTempDir();
  try {
    const empty = join(dir, "empty.ts");
    await Deno.writeTextFile(empty, "");
    const anchor = await median(["run", empty], n);
    const help = await median(["run", join(ROOT, "mod.ts"), "--help"], n);
    const cmdHelp = await median(
      ["run", join(ROOT, "mod.ts"), "verify-signatures", "--help"],
      n,
    );
    const fmt = (s: number) => `${(s * 1000).toFixed(1)} ms`;
    console.log(`startup (median of ${n} runs each):`);
    console.log(`  deno run <empty script>                  ${fmt(anchor)}  (anchor)`);
    console.log(
      `  deno run mod.ts --help                   ${fmt(help)}  ratio ${
        (help / anchor).toFixed(2)
      }`,
    );
    console.log(
      `  deno run mod.ts verify-signatures --help ${fmt(cmdHelp)}  ratio ${
        (cmdHelp / anchor).toFixed(2)
      }`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
