/**
 * Benchmark: verify the five valid Dangerzone signature files (7 signatures)
 * with `test.pub.key` and the embedded public-good trusted root, warm (one
 * untimed run first), as `verify-signatures` does: load key and root, read,
 * parse, verify. Prints the wall time of one full pass (median of 20) and
 * its ratio to the 0.3 s target.
 *
 *     deno run -A bench/verify_signatures_bench.ts
 *
 * @module
 */

import { testdata, testdataPresent } from "../tests/helpers/testdata.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { verifySignatureListText } from "../lib/signatures/verify.ts";

const TARGET_S = 0.3;
const KEY_ID = "95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";

async function pass(files: string[]): Promise<number> {
  const key = await loadTrustedKey(testdata("dangerzone", "test.pub.key"));
  const trustedRoot = await loadTrustedRoot();
  let verified = 0;
  for (const f of files) {
    const digest = `sha256:${f.split("/").pop()!.slice(0, 64)}`;
    const r = verifySignatureListText(await Deno.readTextFile(f), digest, { trustedRoot, key });
    if (!r.ok) throw new Error(`${f} did not verify`);
    verified += r.reports.length;
  }
  return verified;
}

if (import.meta.main) {
  if (!testdataPresent()) {
    console.error("verify_signatures_bench: ../shared/testdata is absent; skipped");
    Deno.exit(0);
  }
  const dir = testdata("dangerzone", "signatures", "valid", KEY_ID);
  const files = [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`).sort();
  const count = await pass(files); // warm-up
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await pass(files);
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(
    `verify-signatures: ${files.length} files, ${count} signatures, warm wall time ${
      median.toFixed(4)
    } s (median of ${times.length}; min ${times[0].toFixed(4)} s); target ${TARGET_S} s; ratio ${
      (median / TARGET_S).toFixed(3)
    } ${median <= TARGET_S ? "(within target)" : "(OVER TARGET)"}`,
  );
}
