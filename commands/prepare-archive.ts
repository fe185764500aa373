/**
 * `prepare-archive`: write one tar with the image and all that verifies it.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { dirname } from "node:path";
import { IoError, UsageError } from "../lib/errors/errors.ts";
import { DEFAULT_IMAGE } from "../lib/config/dangerzone_image.ts";
import { formatBytes } from "../lib/cli/progress.ts";
import { parseRegistryReference } from "../lib/registry/reference.ts";
import { RegistrySource } from "../lib/image/source.ts";
import { clientFor } from "../lib/registry/from_options.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { trustFor } from "../lib/trust/from_options.ts";
import { chainToCarry } from "../lib/trust/trust_source.ts";
import { prepareArchive } from "../lib/archive/prepare.ts";
import { dangerzoneArch, parsePlatform } from "../lib/oci/platform.ts";

const DEFAULT_OUTPUT = "dangerzone-{arch}.tar";

/** Refuse (exit 2) an output that exists (unless `force`) or whose directory is missing. */
async function checkOutput(output: string, force: boolean): Promise<void> {
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.lstat(output);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (info?.isDirectory) {
    throw new UsageError(`${output} is a directory`, { hint: "--output names the .tar to write" });
  }
  if (info && !force) {
    throw new UsageError(`${output} already exists; refusing to overwrite it`, {
      hint: "pass --force to replace it, or choose another --output",
    });
  }
  const dir = dirname(output);
  let isDir = false;
  try {
    isDir = (await Deno.stat(dir)).isDirectory;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (!isDir) {
    throw new UsageError(`directory ${dir} does not exist`, { hint: "create it first" });
  }
}

/** The `prepare-archive` command. */
export const command = defineCommand({
  name: "prepare-archive",
  summary: "write one tar with the image and all that verifies it",
  usage:
    "prepare-archive [IMAGE[@sha256:\u2026]] [--output FILE.tar] [--platform OS/ARCH | --all-platforms] [--force]",
  description:
    `Writes Dangerzone's archive format (a tar of a cosign-save layout; dangerzone.json holds the full index, index.json the image only, so 'podman load -i' and 'docker load -i' take it as it is). IMAGE defaults to ${DEFAULT_IMAGE}. For an index, the archive holds the platform's own signed manifest (as Dangerzone's does), or the signed index when only that is signed. Signatures are verified before anything is written; an existing file is never replaced without --force.`,
  options: {
    "output": {
      type: "string",
      short: "o",
      value: "FILE.tar",
      description:
        `the archive to write; '{arch}' becomes the architecture (default ${DEFAULT_OUTPUT})`,
    },
    "platform": {
      type: "string",
      value: "OS/ARCH",
      description: "platform to keep (default this machine's, e.g. linux/amd64)",
    },
    "all-platforms": {
      type: "boolean",
      description: "keep every platform (not Dangerzone's format)",
    },
    "force": { type: "boolean", description: "replace an existing output file" },
  },
  globals: {
    key: true,
    "trusted-root": true,
    "signed-identity": true,
    authfile: true,
    "insecure-registry": true,
    proxy: true,
    progress: true,
  },
  env: {
    "REGISTRY_AUTH_FILE, DOCKER_CONFIG": "where registry credentials are read",
    "HTTPS_PROXY, ALL_PROXY": "proxy for registry requests (never for loopback)",
  },
  positionals: { min: 0, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image prepare-archive",
    `dangerzone-image prepare-archive --platform linux/arm64 --output dz-{arch}.tar ${DEFAULT_IMAGE}@sha256:\u2026`,
  ],
  permissions:
    "--allow-net=<registry host>,tuf-repo-cdn.sigstore.dev --allow-read=<auth file>,<data dir>,<output dir> --allow-write=<output dir>,<data dir> --allow-env",
  async run(ctx) {
    const platform = ctx.options.platform;
    const allPlatforms = ctx.options["all-platforms"];
    if (platform && allPlatforms) {
      throw new UsageError("--platform and --all-platforms exclude each other");
    }
    const defaultPlatform = `linux/${dangerzoneArch(Deno.build.arch)}`;
    const arch = allPlatforms ? "all" : parsePlatform(platform ?? defaultPlatform).architecture;
    const given = ctx.options.output;
    if (given === "") throw new UsageError("--output needs a file name");
    const output = (given ?? DEFAULT_OUTPUT).replaceAll("{arch}", arch);
    const force = ctx.options.force;
    const ref = parseRegistryReference(ctx.args[0] ?? DEFAULT_IMAGE);
    await checkOutput(output, force);
    const key = await loadTrustedKey(ctx.global.key);
    const trust = await trustFor(ctx.global, "if-expired", ctx.err);
    const trustedRoot = trust.root;
    const tufChain = await chainToCarry(trust);
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
        defaultPlatform,
        allPlatforms,
        noClobber: !force,
        key,
        trustedRoot,
        ...(tufChain ? { tufChain } : {}),
        progress: ctx.progress,
        signal: abort.signal,
      });
      if (ctx.global.json) {
        ctx.out(JSON.stringify({
          ok: true,
          output,
          image: r.reference,
          digest: r.digest,
          ...(r.indexDigest ? { indexDigest: r.indexDigest } : {}),
          dangerzoneCompatible: r.dangerzoneIncompatible === undefined,
          platforms: r.platforms,
          blobs: r.blobs,
          bytes: r.bytes,
          signatures: r.verifiedSignatures,
          signaturesFound: r.signatures,
          bundles: r.bundles,
          attestations: r.attestations,
          tufChain: r.tufChain,
          tlog: r.tlog,
        }));
      } else {
        const name = ctx.args[0] ?? DEFAULT_IMAGE;
        if (r.indexDigest) {
          ctx.out(
            `Resolved ${name} to ${r.indexDigest}; its ${r.platforms[0]} manifest ${r.digest}`,
          );
        } else if (!ref.digest) ctx.out(`Resolved ${name} to ${r.digest}`);
        ctx.out(`Wrote ${output}: ${r.reference}`);
        ctx.out(
          `  ${r.platforms.join(", ") || "(no platform)"}; ${r.blobs} blobs, ${
            formatBytes(r.bytes)
          }; ${r.verifiedSignatures}/${r.signatures} signature(s) verified${
            r.attestations ? "; attestations included" : ""
          }`,
        );
      }
      if (r.dangerzoneIncompatible) ctx.err(`note: ${r.dangerzoneIncompatible}`);
      return 0;
    } finally {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
      await source.close();
    }
  },
});

if (import.meta.main) await runAsMain(command);
