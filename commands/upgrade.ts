/**
 * `upgrade`: install the newest signed image, refusing rollbacks.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { parseImageReference } from "../lib/registry/reference.ts";
import { clientFor } from "../lib/registry/from_options.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { trustFor } from "../lib/trust/from_options.ts";
import { runtimeEnv, selectRuntime } from "../lib/runtime/select.ts";
import { readEnv } from "../lib/config/paths.ts";
import { parsePlatform } from "../lib/oci/platform.ts";
import { DEFAULT_IMAGE } from "../lib/config/dangerzone_image.ts";
import { upgradeFromRegistry, type UpgradeResult } from "../lib/update/upgrade.ts";

function signerText(r: UpgradeResult): string {
  const s = r.signer;
  if (!s) return "(unknown)";
  return s.type === "key"
    ? `key ${s.source} (sha256 ${s.keyId.slice(0, 16)}…)`
    : `${s.subjectAlternativeName ?? "?"} (${s.issuer ?? "?"})`;
}

function logText(r: UpgradeResult): string {
  const newest = [...r.tlog].sort((a, b) => b.logIndex - a.logIndex)[0];
  if (!newest) return "(none)";
  return `index ${newest.logIndex} at ${
    new Date(newest.integratedTime * 1000).toISOString()
  } (log ${newest.logID.slice(0, 16)}…)`;
}

/** The `--json` document of an upgrade (docs/json.md, "upgrade"). */
export function upgradeJson(r: UpgradeResult, check: boolean): Record<string, unknown> {
  return {
    ok: true,
    status: r.status,
    ...(check ? { updateAvailable: r.status === "available" } : {}),
    image: r.imageName,
    digest: r.digest,
    previousDigest: r.previousDigest ?? null,
    platformDigest: r.platformDigest,
    platform: r.platform ?? null,
    imageId: r.imageId,
    signatures: r.verifiedSignatures,
    bundles: r.verifiedBundles,
    droppedSignatures: r.droppedSignatures,
    signer: r.signer ?? null,
    tlog: r.tlog,
    runtime: r.runtime,
    removedImages: r.removedImages ?? [],
  };
}

/** The human-readable report of an upgrade. */
export function formatUpgrade(r: UpgradeResult): string {
  const lines = r.status === "up-to-date"
    ? [`Already up to date: ${r.imageName}`, `  digest:    ${r.digest}`]
    : r.status === "available"
    ? [
      `Update available for ${r.imageName} (nothing installed; run without --check to install)`,
      `  installed: ${r.previousDigest ?? "(nothing installed)"}`,
      `  new:       ${r.digest}`,
    ]
    : [
      `Upgraded ${r.imageName}`,
      `  from:      ${r.previousDigest ?? "(nothing installed)"}`,
      `  to:        ${r.digest}`,
    ];
  if (r.platformDigest !== r.digest) {
    lines.push(`  platform:  ${r.platform ?? ""} ${r.platformDigest}`.trimEnd());
  }
  lines.push(
    `  image ID:  ${r.imageId}`,
    `  log entry: ${logText(r)}`,
    `  signed by: ${signerText(r)} (${r.verifiedSignatures} valid signature${
      r.verifiedSignatures === 1 ? "" : "s"
    })`,
    `  runtime:   ${r.runtime}`,
  );
  return lines.join("\n");
}

/** The `upgrade` command. */
export const command = defineCommand({
  name: "upgrade",
  summary: "install the newest signed image, refusing rollbacks",
  usage:
    "upgrade [IMAGE[:TAG]] [--tag latest] [--platform OS/ARCH] [--check] [--force] [--offline] [--keep-old]",
  description:
    `IMAGE defaults to ${DEFAULT_IMAGE}. Resolves the tag, verifies its signatures (the trusted key, the transparency log, the signed identity), refuses a rollback, pulls every blob verified into the runtime, then stores the signatures and the rollback state in the data directory. --check stops before installing: it reports whether an update is available (JSON "updateAvailable") and writes nothing.`,
  globals: {
    "data-dir": true,
    key: true,
    "trusted-root": true,
    "signed-identity": true,
    runtime: true,
    authfile: true,
    "insecure-registry": true,
    proxy: true,
    progress: true,
  },
  env: {
    DANGERZONE_IMAGE_DATA_DIR: "the data directory (default for --data-dir)",
    "REGISTRY_AUTH_FILE, DOCKER_CONFIG": "where registry credentials are read",
    "HTTPS_PROXY, ALL_PROXY": "proxy for registry requests (never for loopback)",
    CONTAINERS_STORAGE_CONF: "podman's storage configuration",
    DOCKER_HOST: "the Docker daemon (--runtime docker)",
    "DANGERZONE_IMAGE_TUF_URL, DANGERZONE_IMAGE_TUF_ROOT":
      "another Sigstore TUF repository and its anchor root (both or neither)",
  },
  options: {
    "check": {
      type: "boolean",
      description: "only report whether a verified update is available; install nothing",
    },
    "tag": { type: "string", value: "TAG", description: "the tag to follow (default latest)" },
    "platform": {
      type: "string",
      value: "OS/ARCH",
      description: "platform to install from a multi-arch image (default: this machine's)",
    },
    "keep-old": {
      type: "boolean",
      description: "keep the previously installed image in the runtime (default: remove it)",
    },
    "force": {
      type: "boolean",
      description: "allow installing an image older than the installed one (a rollback)",
    },
    "offline": {
      type: "boolean",
      description:
        "do not refresh the Sigstore trusted root (use the cached or embedded one); the registry is still asked",
    },
  },
  positionals: { min: 0, max: 1, names: "IMAGE" },
  examples: [
    `dangerzone-image upgrade            # ${DEFAULT_IMAGE}`,
    "dangerzone-image --json upgrade ghcr.io/freedomofpress/dangerzone/v1",
    "dangerzone-image upgrade --check   # is a verified update available? installs nothing",
  ],
  permissions:
    "--allow-net=<registry host>,tuf-repo-cdn.sigstore.dev --allow-read=<data dir>,<auth file>[,<key>,<trusted root>] --allow-write=<data dir> --allow-run=podman --allow-env (with --runtime oci:DIR: read/write DIR instead of --allow-run)",
  async run(ctx) {
    const image = ctx.args[0] ?? DEFAULT_IMAGE;
    const ref = parseImageReference(image);
    if (ref.kind !== "registry") {
      throw new UsageError(`upgrade reads from a registry, not ${ref.kind}: references`, {
        hint: "use 'load-archive' for archives",
      });
    }
    if (ref.digest) {
      throw new UsageError(`upgrade follows a tag; '${image}' names a digest`, {
        hint: "give IMAGE[:TAG] or --tag TAG",
      });
    }
    const flagTag = ctx.options.tag;
    if (flagTag && ref.tag && flagTag !== ref.tag) {
      throw new UsageError(`'${image}' names tag '${ref.tag}' but --tag says '${flagTag}'`);
    }
    const tag = flagTag ?? ref.tag ?? "latest";
    const platform = ctx.options.platform;
    if (platform) parsePlatform(platform);
    const check = ctx.options.check;
    const [key, trust] = await Promise.all([
      loadTrustedKey(ctx.global.key),
      trustFor(ctx.global, ctx.options.offline ? "never" : "if-expired", ctx.err),
    ]);
    const trustedRoot = trust.root;
    const client = clientFor(ref.registry, ctx.global);
    try {
      const result = await upgradeFromRegistry({
        client,
        repository: ref.repository,
        tag,
        platform,
        key,
        trustedRoot,
        dataDir: ctx.global.dataDir,
        runtime: selectRuntime(ctx.global.runtime, ctx.global.dataDir, {
          env: runtimeEnv(ctx.global.env ?? readEnv),
        }),
        force: ctx.options.force,
        keepOld: ctx.options["keep-old"],
        signedIdentities: ctx.global.signedIdentities,
        progress: ctx.progress,
        checkOnly: check,
      });
      if (ctx.global.json) ctx.out(JSON.stringify(upgradeJson(result, check)));
      else ctx.out(formatUpgrade(result));
      return 0;
    } finally {
      client.close();
    }
  },
});

if (import.meta.main) await runAsMain(command);
