/**
 * `tag`: point a tag at a manifest without moving blobs (crane tag).
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { clientFor } from "../lib/registry/from_options.ts";
import { formatReference, parseRegistryReference } from "../lib/registry/reference.ts";
import { retag } from "../lib/registry/retag.ts";

/** The `tag` command. */
export const command = defineCommand({
  name: "tag",
  summary: "point a tag at a manifest without moving blobs",
  usage: "tag IMAGE@DIGEST|IMAGE:TAG NEWTAG",
  description:
    "Puts the manifest's exact bytes under NEWTAG in the same repository (no blob is read or written), as 'crane tag' does. Naming the source by digest moves exactly what you checked; IMAGE:TAG takes whatever that tag names now.",
  globals: { authfile: true, "insecure-registry": true, proxy: true },
  env: {
    "REGISTRY_AUTH_FILE, DOCKER_CONFIG": "where registry credentials are read",
    "HTTPS_PROXY, ALL_PROXY": "proxy for registry requests (never for loopback)",
  },
  positionals: { min: 2, max: 2, names: "IMAGE and NEWTAG" },
  examples: [
    "dangerzone-image tag ghcr.io/me/app@sha256:… latest",
    "dangerzone-image tag ghcr.io/me/app:1.2 stable",
  ],
  permissions: "--allow-net=<registry host> --allow-read=<auth file> --allow-env",
  async run(ctx) {
    const ref = parseRegistryReference(ctx.args[0]);
    const source = ref.digest ?? ref.tag ?? "latest";
    const target = parseRegistryReference(`${ref.registry}/${ref.repository}:${ctx.args[1]}`);
    const client = clientFor(ref.registry, ctx.global);
    try {
      const r = await retag(client, ref.repository, source, target.tag!);
      if (ctx.global.json) {
        ctx.out(JSON.stringify({
          ok: true,
          image: formatReference(target),
          digest: r.digest,
          previous: r.previous ?? null,
        }));
      } else {
        ctx.out(
          `${formatReference(target)} -> ${r.digest}${
            r.previous && r.previous !== r.digest ? ` (was ${r.previous})` : ""
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
