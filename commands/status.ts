/**
 * `status`: what is installed under an image name, from this machine's
 * records (no network): signed digest, platform, signed build time, log
 * positions, runtime, and whether the runtime still holds it.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { DEFAULT_IMAGE } from "../lib/config/dangerzone_image.ts";
import { parseRegistryReference } from "../lib/registry/reference.ts";
import { runtimeEnv, selectRuntime } from "../lib/runtime/select.ts";
import { readEnv } from "../lib/config/paths.ts";
import { type InstalledStatus, installedStatus } from "../lib/update/status.ts";

/** The prose report. */
export function formatStatus(s: InstalledStatus): string {
  if (!s.installed) return `${s.image}: not installed by dangerzone-image`;
  const newest = [...s.tlog].sort((a, b) => b.logIndex - a.logIndex)[0];
  return [
    `${s.image}`,
    `  digest:      ${s.digest}`,
    ...(s.platformDigest !== s.digest
      ? [`  platform:    ${s.platform ?? ""} ${s.platformDigest}`]
      : []),
    `  image ID:    ${s.imageId}`,
    `  built:       ${s.created ?? "(no signed build time)"}`,
    `  log:         ${
      newest
        ? s.tlog.map((t) => `index ${t.logIndex} (log ${t.logID.slice(0, 16)}…)`).join(", ")
        : "(none recorded)"
    }`,
    `  installed:   ${s.installedAt} into ${s.runtime}`,
    `  present:     ${
      s.present
        ? "yes"
        : s.runtimeImageId
        ? `NO: the runtime holds another image (${s.runtimeImageId}) under this name`
        : "NO: the runtime no longer holds it (run 'upgrade' to reinstall)"
    }`,
  ].join("\n");
}

/** The `status` command. */
export const command = defineCommand({
  name: "status",
  summary: "show what is installed: digest, platform, build time, log positions",
  usage: "status [IMAGE[:TAG]]",
  description:
    `Reads this machine's install record and rollback state (no network, nothing re-verified: use 'verify-local' for that) and asks the runtime the image was installed into whether it still holds it. IMAGE defaults to ${DEFAULT_IMAGE}:latest. Exit 0 whenever it could answer, installed or not (see "installed" and "present").`,
  globals: {
    "data-dir": true,
    runtime: "ask this runtime instead of the one the image was installed into",
  },
  env: {
    DANGERZONE_IMAGE_DATA_DIR: "the data directory (default for --data-dir)",
    CONTAINERS_STORAGE_CONF: "podman's storage configuration",
    DOCKER_HOST: "the Docker daemon",
  },
  positionals: { min: 0, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image status",
    "dangerzone-image status --json 127.0.0.1:5000/dz/app:latest",
  ],
  permissions:
    "--allow-read=<data dir> --allow-run=podman,docker --allow-env (with oci:DIR: --allow-read=DIR)",
  async run(ctx) {
    const ref = parseRegistryReference(ctx.args[0] ?? DEFAULT_IMAGE);
    if (ref.digest) {
      throw new UsageError("name the image as installed (IMAGE[:TAG]), not by digest");
    }
    const image = `${ref.registry}/${ref.repository}:${ref.tag ?? "latest"}`;
    const s = await installedStatus(
      ctx.global.dataDir,
      image,
      (recorded) =>
        selectRuntime(ctx.global.runtime ?? recorded, ctx.global.dataDir, {
          env: runtimeEnv(ctx.global.env ?? readEnv),
        }),
    );
    if (ctx.global.json) ctx.out(JSON.stringify({ ok: true, ...s }));
    else ctx.out(formatStatus(s));
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
