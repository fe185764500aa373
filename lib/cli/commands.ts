/**
 * The command registry: every command's name, summary and lazy loader
 * (string-literal imports, so `deno compile` embeds them and `--help` loads
 * only the command asked for). `mod.ts` dispatches through it; `completion`
 * reads it (a module of its own, so no command imports `mod.ts`).
 *
 * @module
 */

import type { Command } from "./command.ts";

/** Every command, loaded lazily (string-literal imports so `deno compile` embeds them). */
export const COMMANDS: Record<string, { summary: string; load(): Promise<{ command: Command }> }> =
  {
    "attest-provenance": {
      summary: "verify the image's SLSA provenance and print its claims",
      load: () => import("../../commands/attest-provenance.ts"),
    },
    "sign": {
      summary: "sign IMAGE@DIGEST the cosign way (key file or PKCS#11 token)",
      load: () => import("../../commands/sign.ts"),
    },
    "sign-blob": {
      summary: "sign a file into a Sigstore bundle (cosign sign-blob), logged in Rekor",
      load: () => import("../../commands/sign-blob.ts"),
    },
    "generate-key-pair": {
      summary: "write a cosign-compatible encrypted key pair",
      load: () => import("../../commands/generate-key-pair.ts"),
    },
    "tag": {
      summary: "point a tag at a manifest without moving blobs",
      load: () => import("../../commands/tag.ts"),
    },
    "login": {
      summary: "check and store registry credentials",
      load: () => import("../../commands/login.ts"),
    },
    "logout": {
      summary: "remove stored registry credentials",
      load: () => import("../../commands/logout.ts"),
    },
    "upgrade": {
      summary: "install the newest signed image, refusing rollbacks",
      load: () => import("../../commands/upgrade.ts"),
    },
    "verify-local": {
      summary: "re-check the local image against stored signatures, offline",
      load: () => import("../../commands/verify-local.ts"),
    },
    "verify-signatures": {
      summary: "verify a saved signature list for a digest, offline",
      load: () => import("../../commands/verify-signatures.ts"),
    },
    "verify-bundle": {
      summary: "verify a Sigstore bundle for a file or digest, offline",
      load: () => import("../../commands/verify-bundle.ts"),
    },
    "prepare-archive": {
      summary: "write one tar with the image and all that verifies it",
      load: () => import("../../commands/prepare-archive.ts"),
    },
    "load-archive": {
      summary: "verify an archive fully offline, then load it",
      load: () => import("../../commands/load-archive.ts"),
    },
    "store-signatures": {
      summary: "fetch, verify and store the signatures of an image's current digest",
      load: () => import("../../commands/store-signatures.ts"),
    },
    "copy": {
      summary: "copy a verified image and its signatures to another registry (a mirror)",
      load: () => import("../../commands/copy.ts"),
    },
    "trust": {
      summary: "show which Sigstore trusted root is in use, from where, its version and expiry",
      load: () => import("../../commands/trust.ts"),
    },
    "status": {
      summary: "show what is installed: digest, platform, build time, log positions",
      load: () => import("../../commands/status.ts"),
    },
    "completion": {
      summary: "print a bash, zsh or fish completion script",
      load: () => import("../../commands/completion.ts"),
    },
    "version": {
      summary: "print the version",
      load: () => import("../../commands/version.ts"),
    },
  };
