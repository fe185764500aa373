/**
 * Benchmark (issues 5, 19): `upgrade` of a large image from a loopback
 * registry into `--runtime oci:DIR`, beside its anchor `skopeo copy
 * docker://… oci:…` of the same image in the same run. The image (default
 * 1 GiB: four incompressible 256 MiB layers) is generated as streams and
 * pushed without holding it in memory, then signed in the loopback Rekor so
 * `upgrade` verifies it for real. Prints throughput, its ratio to skopeo's
 * (target ≥ 2×), the upgrade process's peak RSS (target ≤ 96 MiB, flat in
 * image size: a quarter-size image is upgraded too and compared), and
 * `verify-local` of the store just written, which re-hashes every blob
 * (target ≤ 1.2 s for 1 GiB, same RSS limit).
 *
 *     deno run -A bench/upgrade_bench.ts [--size-mib 1024]
 *
 * @module
 */

import { join } from "node:path";
import { startSigningLab } from "../tests/helpers/signed_images.ts";
import { pushBigImage } from "./helpers/big_image.ts";
import { measure, measureDz, mib, parseFlags, verdict, warmUp } from "./helpers/measure.ts";

const RSS_LIMIT = 96 * 1024 * 1024;
const RATIO_TARGET = 2;
/** verify-local of the 1 GiB store, seconds (scaled with the size). */
const VERIFY_TARGET_PER_GIB = 1.2;

async function sync(): Promise<void> {
  await new Deno.Command("sync").output();
}

if (import.meta.main) {
  const { sizeMiB, keep } = parseFlags(Deno.args);
  const work = await Deno.makeTempDir({ prefix: "dz-bench-upgrade-" });
  await using lab = await startSigningLab();
  try {
    console.log(`upgrade benchmark: ${sizeMiB} MiB image (4 layers), loopback registry`);
    const big = await pushBigImage(lab.client, "bench/big", "latest", { layerMiB: sizeMiB / 4 });
    await lab.sign("bench/big", big.digest);
    const smallMiB = Math.max(4, Math.round(sizeMiB / 4));
    const small = await pushBigImage(lab.client, "bench/small", "latest", {
      layerMiB: smallMiB / 4,
    });
    await lab.sign("bench/small", small.digest);
    await warmUp();

    const ref = `${lab.reg.host}/bench/big`;
    const dzArgs = (dataDir: string, store: string, image: string) => [
      "upgrade",
      ...lab.trustArgs,
      "--data-dir",
      dataDir,
      "--runtime",
      `oci:${store}`,
      "--progress",
      "none",
      image,
    ];

    await sync();
    const skopeo = await measure("skopeo", [
      "copy",
      "--quiet",
      "--src-tls-verify=false",
      `docker://${ref}:latest`,
      `oci:${join(work, "skopeo")}:latest`,
    ]);
    await sync();
    const dz = await measureDz(dzArgs(join(work, "data"), join(work, "store"), ref));
    if (!/Upgraded/.test(dz.stdout)) throw new Error(`upgrade did not upgrade:\n${dz.stdout}`);
    await sync();
    const verify = await measureDz([
      "verify-local",
      ...lab.trustArgs,
      "--data-dir",
      join(work, "data"),
      "--runtime",
      `oci:${join(work, "store")}`,
      ref,
    ]);
    if (!/Verified/.test(verify.stdout)) throw new Error(`verify-local:\n${verify.stdout}`);
    await sync();
    const dzSmall = await measureDz(
      dzArgs(join(work, "data-small"), join(work, "store-small"), `${lab.reg.host}/bench/small`),
    );

    const mbps = (s: number) => big.totalBytes / 1024 / 1024 / s;
    const ratio = skopeo.seconds / dz.seconds;
    const flat = dz.peakRss <= dzSmall.peakRss * 1.25 + 8 * 1024 * 1024;
    const w = (s: string) => s.padEnd(44);
    console.log(`  image: ${mib(big.totalBytes)} (${big.digest.slice(0, 19)}…)`);
    console.log(
      `  ${w("skopeo copy docker:// oci: (anchor)")}${skopeo.seconds.toFixed(2)} s  ${
        mbps(skopeo.seconds).toFixed(0)
      } MiB/s  peak RSS ${mib(skopeo.peakRss)}`,
    );
    console.log(
      `  ${w("dangerzone-image upgrade --runtime oci:")}${dz.seconds.toFixed(2)} s  ${
        mbps(dz.seconds).toFixed(0)
      } MiB/s  peak RSS ${mib(dz.peakRss)}`,
    );
    console.log(
      `  throughput ratio to skopeo: ${ratio.toFixed(2)}× (target ≥ ${RATIO_TARGET}×): ${
        verdict(ratio >= RATIO_TARGET)
      }`,
    );
    console.log(
      `  peak RSS ${mib(dz.peakRss)} (target ≤ ${mib(RSS_LIMIT)}): ${
        verdict(dz.peakRss > 0 && dz.peakRss <= RSS_LIMIT)
      }`,
    );
    console.log(
      `  peak RSS at ${smallMiB} MiB: ${mib(dzSmall.peakRss)}; at ${sizeMiB} MiB: ${
        mib(dz.peakRss)
      } (flat in size): ${verdict(flat)}`,
    );
    const verifyTarget = VERIFY_TARGET_PER_GIB * sizeMiB / 1024;
    console.log(
      `  verify-local (re-hash of every blob) ${verify.seconds.toFixed(2)} s (target ≤ ${
        verifyTarget.toFixed(2)
      } s): ${verdict(verify.seconds <= verifyTarget)}; peak RSS ${mib(verify.peakRss)}: ${
        verdict(verify.peakRss > 0 && verify.peakRss <= RSS_LIMIT)
      }`,
    );
  } finally {
    if (keep) console.log(`  kept ${work}`);
    else await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
