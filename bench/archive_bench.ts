/**
 * Benchmark (issues 7, 19): the air-gap path on a large image (default 1
 * GiB: four incompressible 256 MiB layers, pushed as streams and signed in
 * the loopback Rekor), each beside its anchor measured in the same run:
 *
 * - `prepare-archive` vs `skopeo copy docker://… docker-archive:…`
 *   (throughput ratio, target ≥ 2×);
 * - `load-archive --runtime podman` (vfs storage, temp
 *   `CONTAINERS_STORAGE_CONF`) and `load-archive --runtime oci:DIR` (offline
 *   verification included) vs plain `podman load` of skopeo's archive of
 *   the same image into an empty vfs store (time ratio, target ≤ 1.05×);
 * - `load-archive --runtime docker` vs plain `docker load` of skopeo's
 *   archive, each into a fresh private dockerd (vfs, `tests/helpers/dockerd.ts`;
 *   time ratio, target ≤ 1.05×);
 * - peak RSS of each `dangerzone-image` process (target ≤ 96 MiB).
 *
 *     deno run -A bench/archive_bench.ts [--size-mib 1024] [--keep]
 *
 * Skips the podman figures when podman is not on PATH, the docker ones
 * when no private dockerd can be started (not root, no `dockerd`).
 *
 * @module
 */

import { join } from "node:path";
import { startSigningLab } from "../tests/helpers/signed_images.ts";
import { onPath } from "../lib/runtime/exec.ts";
import { pushBigImage } from "./helpers/big_image.ts";
import { canStartDockerd, startDockerd } from "../tests/helpers/dockerd.ts";
import {
  measure,
  type Measured,
  measureDz,
  mib,
  parseFlags,
  verdict,
  warmUp,
} from "./helpers/measure.ts";

const RSS_LIMIT = 96 * 1024 * 1024;
const PREPARE_TARGET = 2;
const LOAD_TARGET = 1.05;

async function sync(): Promise<void> {
  await new Deno.Command("sync").output();
}

/** A fresh vfs store for podman: the `CONTAINERS_STORAGE_CONF` env. */
async function podmanStore(dir: string): Promise<Record<string, string>> {
  await Deno.mkdir(dir, { recursive: true });
  const conf = join(dir, "storage.conf");
  await Deno.writeTextFile(
    conf,
    `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`,
  );
  return { CONTAINERS_STORAGE_CONF: conf };
}

if (import.meta.main) {
  const { sizeMiB, keep } = parseFlags(Deno.args);
  const work = await Deno.makeTempDir({ prefix: "dz-bench-archive-" });
  await using lab = await startSigningLab();
  const lines: string[] = [];
  const w = (s: string) => s.padEnd(50);
  const row = (label: string, m: Measured, extra = "") =>
    lines.push(
      `  ${w(label)}${m.seconds.toFixed(2).padStart(6)} s  peak RSS ${mib(m.peakRss)}${extra}`,
    );
  try {
    console.log(`archive benchmark: ${sizeMiB} MiB image (4 layers), loopback registry`);
    const big = await pushBigImage(lab.client, "bench/big", "latest", { layerMiB: sizeMiB / 4 });
    await lab.sign("bench/big", big.digest);
    await warmUp();
    const ref = `${lab.reg.host}/bench/big`;
    const trust = [...lab.trustArgs, "--progress", "none"];
    const mbps = (s: number) => `  ${(big.totalBytes / 1024 / 1024 / s).toFixed(0)} MiB/s`;

    // prepare-archive vs skopeo docker-archive
    const skopeoTar = join(work, "skopeo.tar");
    await sync();
    const skopeo = await measure("skopeo", [
      "copy",
      "--quiet",
      "--src-tls-verify=false",
      `docker://${ref}:latest`,
      `docker-archive:${skopeoTar}:${ref}:latest`,
    ]);
    const ourTar = join(work, "dz.tar");
    await sync();
    const prepare = await measureDz([
      "prepare-archive",
      ...trust,
      "--data-dir",
      join(work, "data-prepare"),
      "--output",
      ourTar,
      `${ref}:latest`,
    ]);
    lines.push(`  image: ${mib(big.totalBytes)} (${big.digest.slice(0, 19)}…)`);
    row("skopeo copy docker:// docker-archive: (anchor)", skopeo, mbps(skopeo.seconds));
    row("dangerzone-image prepare-archive", prepare, mbps(prepare.seconds));
    const prepRatio = skopeo.seconds / prepare.seconds;
    lines.push(
      `  prepare-archive throughput ratio to skopeo: ${
        prepRatio.toFixed(2)
      }× (target ≥ ${PREPARE_TARGET}×): ${verdict(prepRatio >= PREPARE_TARGET)}`,
    );
    const rssOk = (m: Measured) => verdict(m.peakRss > 0 && m.peakRss <= RSS_LIMIT);
    lines.push(`  prepare-archive peak RSS ≤ ${mib(RSS_LIMIT)}: ${rssOk(prepare)}`);

    // load-archive vs podman load
    const loadArgs = (dataDir: string, runtime: string) => [
      "load-archive",
      ...trust,
      "--data-dir",
      dataDir,
      "--runtime",
      runtime,
      ourTar,
    ];
    let anchor: Measured | undefined;
    if (onPath("podman")) {
      const env = await podmanStore(join(work, "podman-plain"));
      await sync();
      anchor = await measure("podman", ["load", "-q", "-i", skopeoTar], { env });
      row("podman load (vfs) of skopeo's archive (anchor)", anchor);
      await Deno.remove(join(work, "podman-plain"), { recursive: true }).catch(() => {});
      const env2 = await podmanStore(join(work, "podman-dz"));
      await sync();
      const viaPodman = await measureDz(loadArgs(join(work, "data-podman"), "podman"), env2);
      if (!/Loaded/.test(viaPodman.stdout)) throw new Error(`load-archive: ${viaPodman.stdout}`);
      const r = viaPodman.seconds / anchor.seconds;
      row("dangerzone-image load-archive --runtime podman", viaPodman, `  ratio ${r.toFixed(2)}×`);
      lines.push(
        `  load-archive (podman) time ratio to podman load: ${
          r.toFixed(2)
        }× (target ≤ ${LOAD_TARGET}×): ${verdict(r <= LOAD_TARGET)}; peak RSS: ${rssOk(viaPodman)}`,
      );
      await Deno.remove(join(work, "podman-dz"), { recursive: true }).catch(() => {});
    } else {
      lines.push("  (podman not on PATH: podman figures skipped)");
    }
    if (canStartDockerd()) {
      let plain: Measured;
      {
        await using engine = await startDockerd();
        await sync();
        plain = await measure("docker", ["load", "-q", "-i", skopeoTar], { env: engine.env });
      }
      row("docker load (vfs) of skopeo's archive (anchor)", plain);
      await using engine = await startDockerd();
      await sync();
      const viaDocker = await measureDz(loadArgs(join(work, "data-docker"), "docker"), engine.env);
      if (!/Loaded/.test(viaDocker.stdout)) throw new Error(`load-archive: ${viaDocker.stdout}`);
      const r = viaDocker.seconds / plain.seconds;
      row("dangerzone-image load-archive --runtime docker", viaDocker, `  ratio ${r.toFixed(2)}×`);
      lines.push(
        `  load-archive (docker) time ratio to docker load: ${
          r.toFixed(2)
        }× (target ≤ ${LOAD_TARGET}×): ${verdict(r <= LOAD_TARGET)}; peak RSS: ${rssOk(viaDocker)}`,
      );
    } else {
      lines.push("  (no private dockerd can start here: docker figures skipped)");
    }
    await sync();
    const viaOci = await measureDz(
      loadArgs(join(work, "data-oci"), `oci:${join(work, "oci-store")}`),
    );
    if (!/Loaded/.test(viaOci.stdout)) throw new Error(`load-archive: ${viaOci.stdout}`);
    if (anchor) {
      const r = viaOci.seconds / anchor.seconds;
      row("dangerzone-image load-archive --runtime oci:", viaOci, `  ratio ${r.toFixed(2)}×`);
      lines.push(
        `  load-archive (oci:) time ratio to podman load: ${
          r.toFixed(2)
        }× (target ≤ ${LOAD_TARGET}×): ${verdict(r <= LOAD_TARGET)}; peak RSS: ${rssOk(viaOci)}`,
      );
    } else {
      row("dangerzone-image load-archive --runtime oci:", viaOci);
    }
    console.log(lines.join("\n"));
  } finally {
    if (keep) console.log(`  kept ${work}`);
    else await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
