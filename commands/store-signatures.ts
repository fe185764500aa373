/**
 * `store-signatures`: fetch, verify and store the signatures of an image's
 * current digest without installing it (Dangerzone's command).
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { parseImageReference } from "../lib/registry/reference.ts";
import { clientFor } from "../lib/registry/from_options.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { trustFor } from "../lib/trust/from_options.ts";
import { DEFAULT_IMAGE } from "../lib/config/dangerzone_image.ts";
import { storeImageSignatures } from "../lib/update/store_signatures.ts";

/** The `store-signatures` command. */
export const command = defineCommand({
  name: "store-signatures",
  summary: "fetch, verify and store an image's signatures without installing it",
  usage: "store-signatures [IMAGE]",
  description:
    "IMAGE[:TAG|@DIGEST] defaults to Dangerzone's image. Only signatures that verify with --key\n" +
    "(logged, for the image's signed identity) are stored, under\n" +
    "<data-dir>/signatures/<key id>/<digest>.json; nothing is installed and the rollback\n" +
    "state is not changed.",
  options: {},
  positionals: { min: 0, max: 1, names: "IMAGE" },
  examples: [
    `dangerzone-image store-signatures            # ${DEFAULT_IMAGE}:latest`,
    "dangerzone-image store-signatures --json ghcr.io/freedomofpress/dangerzone/v1:latest",
  ],
  permissions:
    "--allow-net=<registry host> --allow-read=<data dir>,<auth file>[,<key>,<trusted root>] --allow-write=<data dir> --allow-env",
  async run(ctx) {
    const image = ctx.args[0] ?? DEFAULT_IMAGE;
    const ref = parseImageReference(image);
    if (ref.kind !== "registry") {
      throw new UsageError(`store-signatures reads from a registry, not ${ref.kind}: references`);
    }
    const [key, trustedRoot] = await Promise.all([
      loadTrustedKey(ctx.global.key),
      // The root the installation was verified with: the TUF cache, else the embedded one.
      trustFor(ctx.global, "never", ctx.err).then((t) => t.root),
    ]);
    const client = clientFor(ref.registry, ctx.global);
    try {
      const r = await storeImageSignatures({
        client,
        repository: ref.repository,
        ...(ref.digest ? { digest: ref.digest } : { tag: ref.tag ?? "latest" }),
        key,
        trustedRoot,
        dataDir: ctx.global.dataDir,
        signedIdentities: ctx.global.signedIdentities,
      });
      if (ctx.global.json) {
        ctx.out(JSON.stringify({
          ok: true,
          image: r.image,
          digest: r.digest,
          signatures: r.signatures,
          bundles: r.bundles,
          tlog: r.tlog,
          files: r.files,
        }));
      } else {
        ctx.out(`Stored ${r.signatures} verified signature(s) of ${r.image}@${r.digest}`);
        for (const f of r.files) ctx.out(`  ${f}`);
      }
      return 0;
    } finally {
      client.close();
    }
  },
});

if (import.meta.main) await runAsMain(command);
