/**
 * Benchmark (issue 16): `upgrade` of a 4-layer image through a loopback
 * relay shaped like a real link (20 MB/s shared, 50 ms each way), beside
 * `skopeo copy` through the same relay, against the link's floor (image
 * bytes ÷ bandwidth; target: within 10 %). Also counts the requests of an
 * up-to-date check (target ≤ 4) on the metering proxy behind the relay.
 *
 *     deno run -A bench/relay_bench.ts [--size-mib 200]
 *
 * @module
 */

import { join } from "node:path";
import { startSigningLab } from "../tests/helpers/signed_images.ts";
import { startRelay } from "../tests/helpers/relay.ts";
import { startFaultProxy } from "../tests/helpers/fault_proxy.ts";
import { pushBigImage } from "./helpers/big_image.ts";
import { measure, measureDz, mib, verdict, warmUp } from "./helpers/measure.ts";

const RATE = 20_000_000; // bytes/s
const LATENCY_MS = 50;

if (import.meta.main) {
  let sizeMiB = 200;
  for (let i = 0; i < Deno.args.length; i++) {
    if (Deno.args[i] === "--size-mib") sizeMiB = Number(Deno.args[++i]);
  }
  const work = await Deno.makeTempDir({ prefix: "dz-bench-relay-" });
  await using lab = await startSigningLab();
  try {
    const repo = "bench/relay";
    const big = await pushBigImage(lab.client, repo, "latest", { layerMiB: sizeMiB / 4 });
    await lab.sign(repo, big.digest);
    await using proxy = startFaultProxy(lab.reg.url, () => undefined);
    await using relay = startRelay({
      upstream: proxy.host,
      bytesPerSecond: RATE,
      latencyMs: LATENCY_MS,
    });
    await warmUp();
    const floor = big.totalBytes / RATE;
    console.log(
      `relay benchmark: ${mib(big.totalBytes)} in 4 layers through ${
        RATE / 1e6
      } MB/s, ${LATENCY_MS} ms each way; floor ${floor.toFixed(2)} s`,
    );
    const skopeo = await measure("skopeo", [
      "copy",
      "--quiet",
      "--src-tls-verify=false",
      `docker://${relay.host}/${repo}:latest`,
      `oci:${join(work, "skopeo")}:latest`,
    ]);
    const args = [
      "upgrade",
      `${relay.host}/${repo}`,
      ...[...lab.trustArgs, "--data-dir", join(work, "data")],
      ...["--runtime", `oci:${join(work, "store")}`, "--progress", "none"],
      ...["--signed-identity", `${lab.reg.host}/${repo}`],
    ];
    const dz = await measureDz(args);
    if (!/Upgraded/.test(dz.stdout)) throw new Error(`upgrade did not upgrade:\n${dz.stdout}`);
    const before = proxy.seen.length;
    const check = await measureDz(args);
    const requests = proxy.seen.length - before;
    const w = (s: string) => s.padEnd(40);
    const line = (label: string, s: number) =>
      console.log(`  ${w(label)}${s.toFixed(2)} s  ${(s / floor).toFixed(3)}× floor`);
    line("skopeo copy docker:// oci: (anchor)", skopeo.seconds);
    line("dangerzone-image upgrade", dz.seconds);
    console.log(
      `  upgrade within 10% of the floor: ${verdict(dz.seconds <= floor * 1.1)}; ratio to skopeo ${
        (skopeo.seconds / dz.seconds).toFixed(2)
      }×`,
    );
    console.log(
      `  up-to-date check: ${check.seconds.toFixed(2)} s, ${requests} requests (target ≤ 4): ${
        verdict(requests <= 4)
      }`,
    );
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
