/**
 * `load-archive`: verify an archive fully offline, then load it.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { carriedTrustFor, trustFor } from "../lib/trust/from_options.ts";
import { runtimeEnv, selectRuntime } from "../lib/runtime/select.ts";
import { readEnv } from "../lib/config/paths.ts";
import { loadArchive } from "../lib/update/load_archive.ts";
import { formatPlatform, parsePlatform } from "../lib/oci/platform.ts";

/** The `load-archive` command. */
export const command = defineCommand({
  name: "load-archive",
  summary: "verify an archive fully offline, then load it",
  usage: "load-archive FILE.tar [--platform OS/ARCH] [--force] [--keep-old]",
  options: {
    "keep-old": {
      type: "boolean",
      description: "keep the previously installed image in the runtime (default: remove it)",
    },
    "force": { type: "boolean", description: "allow a rollback (and nothing else)" },
    "platform": {
      type: "string",
      value: "OS/ARCH",
      description: "platform to load from a multi-platform archive (default: this machine's)",
    },
  },
  description: [
    "Reads a tar written by 'prepare-archive' (or Dangerzone's, or a tar of 'cosign save'), checks",
    "every signature, the signed identity, the rollback rule and every blob against the signed",
    "digests BEFORE anything reaches the runtime, then installs it under its signed name and",
    "stores the signatures and rollback state. Offline: no network is used.",
    "",
    "Disk: the archive is read once, checked as it is unpacked into a private temporary layout in",
    "the data directory (--data-dir; about the archive's size, removed afterwards, and removed at",
    "once when anything is refused); podman and docker need free space for the image itself (about",
    "the archive's size) in their storage. A compressed archive (.tar.gz) is refused: gunzip it",
    "first.",
  ].join("\n"),
  globals: {
    "data-dir": true,
    key: true,
    "trusted-root": true,
    "signed-identity": true,
    runtime: true,
    progress: true,
  },
  env: {
    DANGERZONE_IMAGE_DATA_DIR: "the data directory (default for --data-dir)",
    CONTAINERS_STORAGE_CONF: "podman's storage configuration",
    DOCKER_HOST: "the Docker daemon (--runtime docker)",
    TMPDIR: "staging directory for podman / docker loads",
  },
  positionals: { min: 1, max: 1, names: "FILE.tar" },
  examples: [
    "dangerzone-image load-archive dz.tar",
  ],
  permissions:
    "--allow-read=<archive>,<data dir> --allow-write=<data dir> --allow-run=podman --allow-env (no --allow-net)",
  async run(ctx) {
    const key = await loadTrustedKey(ctx.global.key);
    const trustedRoot = (await trustFor(ctx.global, "never", ctx.err)).root;
    const carriedTrust = carriedTrustFor(ctx.global, ctx.err);
    const runtime = await selectRuntime(ctx.global.runtime, ctx.global.dataDir, {
      env: runtimeEnv(ctx.global.env ?? readEnv),
    });
    const r = await loadArchive({
      path: ctx.args[0],
      dataDir: ctx.global.dataDir,
      key,
      trustedRoot,
      ...(carriedTrust ? { carriedTrust } : {}),
      runtime,
      force: ctx.options.force,
      keepOld: ctx.options["keep-old"],
      ...(ctx.options.platform
        ? { platform: formatPlatform(parsePlatform(ctx.options.platform)) }
        : {}),
      ...(ctx.global.signedIdentities?.length
        ? { signedIdentities: ctx.global.signedIdentities }
        : {}),
      progress: ctx.progress,
    });
    if (ctx.global.json) {
      ctx.out(JSON.stringify({
        ok: true,
        status: r.status,
        image: r.imageName,
        digest: r.digest,
        platformDigest: r.platformDigest,
        ...(r.platform ? { platform: r.platform } : {}),
        imageId: r.imageId,
        ...(r.previousDigest ? { previousDigest: r.previousDigest } : {}),
        signatures: r.signatures,
        bundles: r.verifiedBundles,
        trustedRoot: r.trustedRoot,
        runtime: runtime.name,
        tlog: r.tlog,
        removedImages: r.removedImages ?? [],
      }));
    } else if (r.status === "up-to-date") {
      ctx.out(`${r.imageName} is already up to date (${r.digest})`);
    } else {
      ctx.out(`Loaded ${r.imageName}@${r.digest} into ${runtime.name}`);
      ctx.out(
        `  image ID ${r.imageId}; ${r.signatures} signature(s) verified and stored${
          r.previousDigest ? `; replaced ${r.previousDigest}` : ""
        }`,
      );
    }
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
