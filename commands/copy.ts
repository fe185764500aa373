/**
 * `copy`: copy a verified image and its signatures, attestations and bundles
 * to another registry (cosign copy; a mirror for a fleet).
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { formatReference, parseRegistryReference } from "../lib/registry/reference.ts";
import { clientFor } from "../lib/registry/from_options.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { copyImage } from "../lib/mirror/copy.ts";

/** The `copy` command. */
export const command = defineCommand({
  name: "copy",
  summary: "copy a verified image and its signatures to another registry (a mirror)",
  usage: "copy SRC DST [--all-platforms]",
  description:
    "SRC is verified first (signatures by --key, logged, signed for SRC's repository or a\n" +
    "--signed-identity); nothing is written to DST unless it verifies. Then the image (an index\n" +
    "with every platform manifest and blob, streamed and digest-checked), its .sig and .att\n" +
    "images and its Sigstore bundle referrers (sha256-<hex> fallback tag) are copied, and DST's\n" +
    "tag (default: SRC's) is set last. A signed index is always copied whole (every platform):\n" +
    "--all-platforms is the default and only behaviour. Machines upgrading from the mirror pass\n" +
    "--signed-identity <SRC repository>.",
  options: {
    "all-platforms": {
      type: "boolean",
      description: "copy every platform of an index (the default: a signed index is never split)",
    },
  },
  positionals: { min: 2, max: 2, names: "SRC and DST" },
  examples: [
    "dangerzone-image copy ghcr.io/freedomofpress/dangerzone/v1:latest mirror.example.org/dangerzone/v1",
    "dangerzone-image upgrade mirror.example.org/dangerzone/v1 --signed-identity ghcr.io/freedomofpress/dangerzone/v1",
  ],
  permissions:
    "--allow-net=<source registry>,<destination registry> --allow-read=<auth file>[,<key>,<trusted root>] --allow-env",
  async run(ctx) {
    const src = parseRegistryReference(ctx.args[0]);
    const dst = parseRegistryReference(ctx.args[1]);
    if (dst.digest) {
      throw new UsageError(`DST '${ctx.args[1]}' names a digest`, {
        hint: "give DST as REGISTRY/REPO[:TAG]; the digest is SRC's",
      });
    }
    if (src.registry === dst.registry && src.repository === dst.repository && !dst.tag) {
      throw new UsageError("SRC and DST are the same repository");
    }
    const [key, trustedRoot] = await Promise.all([
      loadTrustedKey(ctx.global.key),
      loadTrustedRoot(ctx.global.trustedRoot, ctx.global.env),
    ]);
    const srcClient = clientFor(src.registry, ctx.global);
    const dstClient = clientFor(dst.registry, ctx.global);
    try {
      const r = await copyImage({
        src: srcClient,
        srcRepository: src.repository,
        srcReference: src.digest ? { digest: src.digest } : { tag: src.tag ?? "latest" },
        dst: dstClient,
        dstRepository: dst.repository,
        ...(dst.tag ? { dstTag: dst.tag } : {}),
        key,
        trustedRoot,
        signedIdentities: ctx.global.signedIdentities,
        progress: ctx.progress,
      });
      const image = formatReference({ ...dst, tag: r.tag, digest: r.digest });
      if (ctx.global.json) {
        ctx.out(JSON.stringify({
          ok: true,
          image,
          source: formatReference({ ...src, digest: r.digest }),
          digest: r.digest,
          manifests: r.manifests,
          signatures: r.artifacts.signatures,
          attestations: r.artifacts.attestations,
          bundles: r.artifacts.referrers,
          blobs: r.blobs,
          verifiedSignatures: r.verifiedSignatures,
          tlog: r.tlog,
        }));
      } else {
        ctx.out(`Copied ${formatReference({ ...src, digest: r.digest })}`);
        ctx.out(`  to ${image}`);
        ctx.out(
          `  ${r.manifests} manifest(s), ${r.blobs.copied} blob(s) copied (${r.blobs.bytes} bytes), ${r.blobs.present} already there`,
        );
        ctx.out(
          `  ${r.artifacts.signatures} .sig, ${r.artifacts.attestations} .att, ${r.artifacts.referrers} bundle referrer(s); ${r.verifiedSignatures} valid signature(s) checked first`,
        );
      }
      return 0;
    } finally {
      srcClient.close();
      dstClient.close();
    }
  },
});

if (import.meta.main) await runAsMain(command);
