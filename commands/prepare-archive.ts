/**
 * `prepare-archive`: write one tar with the image and all that verifies it.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { IoError, UsageError } from "../lib/cli/errors.ts";
import { formatBytes } from "../lib/cli/progress.ts";
import { parseRegistryReference } from "../lib/registry/reference.ts";
import { RegistrySource } from "../lib/image/source.ts";
import { clientFor } from "../lib/registry/from_options.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { prepareArchive } from "../lib/archive/prepare.ts";

/** The `prepare-archive` command. */
export const command = defineCommand({
  name: "prepare-archive",
  summary: "write one tar with the image and all that verifies it",
  usage:
    "prepare-archive --output FILE.tar IMAGE[@sha256:\u2026] [--platform OS/ARCH | --all-platforms]",
  options: {
    "output": {
      type: "string",
      short: "o",
      value: "FILE.tar",
      description: "the archive to write (required)",
    },
    "platform": {
      type: "string",
      value: "OS/ARCH",
      description: "platform to keep (default linux/amd64)",
    },
    "all-platforms": { type: "boolean", description: "keep every platform" },
  },
  positionals: { min: 1, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image prepare-archive --output dz.tar ghcr.io/freedomofpress/dangerzone/dangerzone@sha256:\u2026",
  ],
  permissions:
    "--allow-net=<registry host> --allow-read=<auth file>,<output dir> --allow-write=<output dir> --allow-env",
  async run(ctx) {
    const output = ctx.options.output as string | undefined;
    if (!output) throw new UsageError("--output FILE.tar is required");
    const platform = ctx.options.platform as string | undefined;
    const allPlatforms = Boolean(ctx.options["all-platforms"]);
    if (platform && allPlatforms) {
      throw new UsageError("--platform and --all-platforms exclude each other");
    }
    const ref = parseRegistryReference(ctx.args[0]);
    const key = await loadTrustedKey(ctx.global.key);
    const trustedRoot = await loadTrustedRoot(ctx.global.trustedRoot);
    const client = clientFor(ref.registry, ctx.global);
    const source = new RegistrySource(client, ref.repository, ref);
    // An interrupt aborts the transfer: the temporary file is removed, FILE.tar never appears.
    const abort = new AbortController();
    const onSignal = () => abort.abort(new IoError("interrupted; no archive was written"));
    const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    for (const s of signals) Deno.addSignalListener(s, onSignal);
    try {
      const r = await prepareArchive({
        source,
        reference: ref,
        output,
        platform,
        allPlatforms,
        key,
        trustedRoot,
        progress: ctx.progress,
        signal: abort.signal,
      });
      if (ctx.global.json) {
        ctx.out(JSON.stringify({
          ok: true,
          output,
          reference: r.reference,
          digest: r.digest,
          platforms: r.platforms,
          blobs: r.blobs,
          bytes: r.bytes,
          signatures: r.signatures,
          verifiedSignatures: r.verifiedSignatures,
          attestations: r.attestations,
          tlog: r.tlog,
        }));
      } else {
        if (!ref.digest) ctx.out(`Resolved ${ctx.args[0]} to ${r.digest}`);
        ctx.out(`Wrote ${output}: ${r.reference}`);
        ctx.out(
          `  ${r.platforms.join(", ") || "(no platform)"}; ${r.blobs} blobs, ${
            formatBytes(r.bytes)
          }; ${r.verifiedSignatures}/${r.signatures} signature(s) verified${
            r.attestations ? "; attestations included" : ""
          }`,
        );
      }
      return 0;
    } finally {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
      await source.close();
    }
  },
});

if (import.meta.main) await runAsMain(command);
