/**
 * `tag`: point a tag at a manifest without moving blobs (crane tag).
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/cli/errors.ts";
import { clientFor } from "../lib/registry/from_options.ts";
import { formatReference, parseRegistryReference } from "../lib/registry/reference.ts";
import { retag } from "../lib/registry/retag.ts";

/** The `tag` command. */
export const command = defineCommand({
  name: "tag",
  summary: "point a tag at a manifest without moving blobs",
  usage: "tag IMAGE@DIGEST TAG",
  options: {},
  positionals: { min: 2, max: 2, names: "IMAGE@DIGEST and TAG" },
  examples: ["dangerzone-image tag ghcr.io/me/app@sha256:… latest"],
  permissions: "--allow-net=<registry host> --allow-read=<auth file> --allow-env",
  async run(ctx) {
    const ref = parseRegistryReference(ctx.args[0]);
    if (!ref.digest) {
      throw new UsageError(`'${ctx.args[0]}' names no digest`, {
        hint: "tag only by digest, e.g. IMAGE@sha256:…, so you move exactly what you checked",
      });
    }
    const tag = ctx.args[1];
    const target = parseRegistryReference(`${ref.registry}/${ref.repository}:${tag}`);
    const client = clientFor(ref.registry, ctx.global);
    try {
      const previous = await retag(client, ref.repository, ref.digest, target.tag!);
      if (ctx.global.json) {
        ctx.out(JSON.stringify({
          ok: true,
          reference: formatReference(target),
          digest: ref.digest,
          previous: previous ?? null,
        }));
      } else {
        ctx.out(
          `${formatReference(target)} -> ${ref.digest}${
            previous && previous !== ref.digest ? ` (was ${previous})` : ""
          }`,
        );
      }
      return 0;
    } finally {
      client.close();
    }
  },
});

if (import.meta.main) await runAsMain(command);
