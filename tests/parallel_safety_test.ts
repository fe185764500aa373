/**
 * `deno task test` runs test files in parallel, in one process: nothing may
 * change process-wide state another file reads. No test sets or deletes an
 * environment variable or changes the working directory (the one exception:
 * SoftHSM, loaded by FFI, reads only the process's `SOFTHSM2_CONF`; its
 * helper holds a lock while it is set). Library code reads the environment
 * only through `lib/config/paths.ts`, as parameters default to it.
 */

import assert from "node:assert/strict";
import { REPO_ROOT, tsFilesUnder } from "./helpers/import_graph.ts";

const PROCESS_STATE = /Deno\.env\.(set|delete)\(|Deno\.chdir\(/;
const ALLOWED = new Set(["tests/helpers/softhsm.ts"]);

async function textOf(file: string): Promise<string> {
  return await Deno.readTextFile(`${REPO_ROOT}/${file}`);
}

Deno.test("parallel safety: no test changes the process's environment or working directory", async () => {
  const files = (await Promise.all(
    ["tests", "lib", "commands", "scripts", "bench"].map((d) => tsFilesUnder(REPO_ROOT, d)),
  )).flat();
  const tests = files.filter((f) => f.endsWith("_test.ts") || f.startsWith("tests/"));
  assert.ok(tests.length > 100, `only ${tests.length} test files found`);
  const bad: string[] = [];
  for (const f of tests) {
    if (ALLOWED.has(f) || f === "tests/parallel_safety_test.ts") continue;
    const text = await textOf(f);
    text.split("\n").forEach((line, i) => {
      if (PROCESS_STATE.test(line)) bad.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(bad, [], "pass env to the command (sinks.env) or subprocess instead");
});

Deno.test("parallel safety: lib/ reads the process environment only in config/paths.ts", async () => {
  const product = (await tsFilesUnder(REPO_ROOT, "lib")).filter((f) => !f.endsWith("_test.ts"));
  const bad: string[] = [];
  for (const f of product) {
    if (f === "lib/config/paths.ts") continue;
    if (/Deno\.env\b/.test(await textOf(f))) bad.push(f);
  }
  assert.deepEqual(bad, [], "take an EnvReader parameter (default readEnv / readEnvExact)");
});
