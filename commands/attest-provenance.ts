/**
 * `attest-provenance`: verify the image's SLSA provenance and print its claims.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { openSource } from "../lib/archive/open_source.ts";
import { displayImage, formatProvenanceText, provenanceJson } from "../lib/provenance/report.ts";
import { verifyProvenance } from "../lib/provenance/verify_provenance.ts";
import { parseImageReference } from "../lib/registry/reference.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";

const OWNER_REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** The `attest-provenance` command. */
export const command = defineCommand({
  name: "attest-provenance",
  summary: "verify the image's SLSA provenance and print its claims",
  usage: "attest-provenance IMAGE --repository OWNER/REPO [--workflow PATH] [--branch NAME]",
  options: {
    "repository": {
      type: "string",
      value: "OWNER/REPO",
      description: "the GitHub repository the image must be built from (required)",
    },
    "workflow": {
      type: "string",
      value: "PATH",
      description: "the workflow file that must have built it, e.g. .github/workflows/release.yml",
    },
    "branch": {
      type: "string",
      value: "NAME",
      description: "the git branch it must be built from",
    },
  },
  globals: {
    "trusted-root": true,
    "data-dir": "where an archive: IMAGE is unpacked while it is read",
    authfile: true,
    "insecure-registry": true,
    proxy: true,
  },
  env: {
    "REGISTRY_AUTH_FILE, DOCKER_CONFIG": "where registry credentials are read",
    "HTTPS_PROXY, ALL_PROXY": "proxy for registry requests (never for loopback)",
  },
  positionals: { min: 1, max: 1, names: "IMAGE" },
  examples: [
    "dangerzone-image attest-provenance ghcr.io/freedomofpress/dangerzone/v1 --repository freedomofpress/dangerzone",
    "dangerzone-image attest-provenance oci:./layout@sha256:\u2026 --repository slsa-framework/example-package",
  ],
  permissions:
    "registry image: --allow-net=<registry host> --allow-read=<auth file>,<trusted root> --allow-env; oci:DIR: --allow-read=<DIR>,<trusted root> only; archive:FILE: --allow-read=<FILE>,<data dir> --allow-write=<data dir> --allow-env",
  async run(ctx) {
    const repository = ctx.options.repository;
    if (repository === undefined) {
      throw new UsageError("--repository OWNER/REPO is required", {
        hint: "e.g. --repository freedomofpress/dangerzone",
      });
    }
    if (!OWNER_REPO.test(repository)) {
      throw new UsageError(`--repository must be OWNER/REPO, not '${repository}'`);
    }
    const workflow = ctx.options.workflow;
    const branch = ctx.options.branch;
    if (workflow === "") throw new UsageError("--workflow must not be empty");
    if (branch === "") throw new UsageError("--branch must not be empty");
    const ref = parseImageReference(ctx.args[0]);
    const trustedRoot = await loadTrustedRoot(ctx.global.trustedRoot, ctx.global.env);
    const source = await openSource(ref, ctx.global);
    try {
      const result = await verifyProvenance(source, {
        trustedRoot,
        expect: {
          repository,
          ...(workflow !== undefined ? { workflow } : {}),
          ...(branch !== undefined ? { branch } : {}),
        },
      });
      const image = displayImage(ref, result.digest);
      ctx.out(
        ctx.global.json
          ? JSON.stringify(provenanceJson(image, result))
          : formatProvenanceText(image, result),
      );
      return 0;
    } finally {
      await source.close();
    }
  },
});

if (import.meta.main) await runAsMain(command);
