/**
 * `deno task bench`: run every `bench/*_bench.ts` in turn (each prints its
 * figures and the ratio to its anchor), then a one-line summary.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL(".", import.meta.url));
const files = [...Deno.readDirSync(dir)]
  .filter((e) => e.isFile && e.name.endsWith("_bench.ts"))
  .map((e) => e.name)
  .sort();
let failed = 0;
for (const name of files) {
  console.log(`\n== ${name}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${dir}${name}`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) failed++;
}
console.log(`\nbench: ${files.length - failed} of ${files.length} benchmarks ran`);
Deno.exit(failed === 0 ? 0 : 1);
