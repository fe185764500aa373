/**
 * `verify-local`: re-check the local image against stored signatures, offline.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/cli/errors.ts";
import { parseRegistryReference } from "../lib/registry/reference.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { selectRuntime } from "../lib/runtime/select.ts";
import { verifyLocalImage } from "../lib/update/verify_local.ts";

/** The `verify-local` command. */
export const command = defineCommand({
  name: "verify-local",
  summary: "re-check the local image against stored signatures, offline",
  usage: "verify-local IMAGE",
  options: {},
  positionals: { min: 1, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image verify-local ghcr.io/freedomofpress/dangerzone/dangerzone:latest",
  ],
  permissions:
    "--allow-read=<data dir>[,<key>,<trusted root>] --allow-run=podman --allow-env (with --runtime oci:DIR: --allow-read=DIR instead of --allow-run)",
  async run(ctx) {
    const ref = parseRegistryReference(ctx.args[0]);
    if (ref.digest) {
      throw new UsageError(`name the image as installed (IMAGE[:TAG]), not by digest`);
    }
    const imageName = `${ref.registry}/${ref.repository}:${ref.tag ?? "latest"}`;
    const [key, trustedRoot] = await Promise.all([
      loadTrustedKey(ctx.global.key),
      loadTrustedRoot(ctx.global.trustedRoot),
    ]);
    const r = await verifyLocalImage({
      imageName,
      key,
      trustedRoot,
      dataDir: ctx.global.dataDir,
      runtime: selectRuntime(ctx.global.runtime, ctx.global.dataDir),
    });
    if (ctx.global.json) {
      ctx.out(JSON.stringify({ ok: true, ...r }));
    } else {
      const newest = [...r.tlog].sort((a, b) => b.logIndex - a.logIndex)[0];
      ctx.out([
        `Verified local image ${r.imageName}`,
        `  signed digest: ${r.signedDigest}`,
        ...(r.platformDigest !== r.signedDigest ? [`  platform:      ${r.platformDigest}`] : []),
        `  image ID:      ${r.imageId} (${r.runtime})`,
        `  signatures:    ${r.signatures} valid, newest at log index ${newest?.logIndex ?? "?"}`,
      ].join("\n"));
    }
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
