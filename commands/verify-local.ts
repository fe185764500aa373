/**
 * `verify-local`: re-check the local image against stored signatures, offline.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { parseRegistryReference } from "../lib/registry/reference.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { trustFor } from "../lib/trust/from_options.ts";
import { runtimeEnv, selectRuntime } from "../lib/runtime/select.ts";
import { readEnv } from "../lib/config/paths.ts";
import { verifyLocalImage } from "../lib/update/verify_local.ts";

/** The `verify-local` command. */
export const command = defineCommand({
  name: "verify-local",
  summary: "re-check the local image against stored signatures, offline",
  usage: "verify-local IMAGE [--deep]",
  options: {
    deep: {
      type: "boolean",
      description:
        "also re-export the image from podman/docker and hash every layer against the signed config",
    },
  },
  globals: { "data-dir": true, key: true, "trusted-root": true, runtime: true, progress: true },
  env: {
    DANGERZONE_IMAGE_DATA_DIR: "the data directory (default for --data-dir)",
    CONTAINERS_STORAGE_CONF: "podman's storage configuration",
    DOCKER_HOST: "the Docker daemon (--runtime docker)",
  },
  positionals: { min: 1, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image verify-local ghcr.io/freedomofpress/dangerzone/dangerzone:latest",
    "dangerzone-image verify-local --deep --runtime docker ghcr.io/freedomofpress/dangerzone/v1",
  ],
  permissions:
    "--allow-read=<data dir>[,<key>,<trusted root>] --allow-run=podman,docker --allow-env (with --runtime oci:DIR: --allow-read=DIR instead of --allow-run)",
  async run(ctx) {
    const ref = parseRegistryReference(ctx.args[0]);
    if (ref.digest) {
      throw new UsageError(`name the image as installed (IMAGE[:TAG]), not by digest`);
    }
    const imageName = `${ref.registry}/${ref.repository}:${ref.tag ?? "latest"}`;
    const [key, trustedRoot] = await Promise.all([
      loadTrustedKey(ctx.global.key),
      // The root the installation was verified with: the TUF cache, else the embedded one.
      trustFor(ctx.global, "never", ctx.err).then((t) => t.root),
    ]);
    const r = await verifyLocalImage({
      imageName,
      key,
      trustedRoot,
      dataDir: ctx.global.dataDir,
      runtime: selectRuntime(ctx.global.runtime, ctx.global.dataDir, {
        env: runtimeEnv(ctx.global.env ?? readEnv),
      }),
      deep: ctx.options.deep,
      ...(ctx.global.signedIdentities?.length
        ? { signedIdentities: ctx.global.signedIdentities }
        : {}),
      progress: ctx.progress,
    });
    if (ctx.global.json) {
      const { imageName, signedDigest, ...rest } = r;
      ctx.out(JSON.stringify({ ok: true, image: imageName, digest: signedDigest, ...rest }));
    } else {
      const newest = [...r.tlog].sort((a, b) => b.logIndex - a.logIndex)[0];
      ctx.out([
        `Verified local image ${r.imageName}`,
        `  signed digest: ${r.signedDigest}`,
        ...(r.platformDigest !== r.signedDigest ? [`  platform:      ${r.platformDigest}`] : []),
        `  image ID:      ${r.imageId} (${r.runtime})`,
        `  signatures:    ${r.signatures} valid, newest at log index ${newest?.logIndex ?? "?"}`,
        ...(r.content
          ? [`  content:       ${r.content.layers} layer(s) re-read, match the signed config`]
          : []),
      ].join("\n"));
    }
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
