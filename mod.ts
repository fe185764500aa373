/**
 * dangerzone-image: keep a container image up to date safely, online and on
 * air-gapped machines. `deno run mod.ts <command> …` dispatches to
 * `commands/<command>.ts`, importing only that command (fast `--help`).
 *
 * @module
 */

import type { Command } from "./lib/cli/command.ts";

/** Every command, loaded lazily (string-literal imports so `deno compile` embeds them). */
export const COMMANDS: Record<string, { summary: string; load(): Promise<{ command: Command }> }> =
  {
    "attest-provenance": {
      summary: "verify the image's SLSA provenance and print its claims",
      load: () => import("./commands/attest-provenance.ts"),
    },
    "sign": {
      summary: "sign IMAGE@DIGEST the cosign way (key file or PKCS#11 token)",
      load: () => import("./commands/sign.ts"),
    },
    "sign-blob": {
      summary: "sign a file into a Sigstore bundle (cosign sign-blob), logged in Rekor",
      load: () => import("./commands/sign-blob.ts"),
    },
    "generate-key-pair": {
      summary: "write a cosign-compatible encrypted key pair",
      load: () => import("./commands/generate-key-pair.ts"),
    },
    "tag": {
      summary: "point a tag at a manifest without moving blobs",
      load: () => import("./commands/tag.ts"),
    },
    "login": {
      summary: "check and store registry credentials",
      load: () => import("./commands/login.ts"),
    },
    "logout": {
      summary: "remove stored registry credentials",
      load: () => import("./commands/logout.ts"),
    },
    "upgrade": {
      summary: "install the newest signed image, refusing rollbacks",
      load: () => import("./commands/upgrade.ts"),
    },
    "verify-local": {
      summary: "re-check the local image against stored signatures, offline",
      load: () => import("./commands/verify-local.ts"),
    },
    "verify-signatures": {
      summary: "verify a saved signature list for a digest, offline",
      load: () => import("./commands/verify-signatures.ts"),
    },
    "verify-bundle": {
      summary: "verify a Sigstore bundle for a file or digest, offline",
      load: () => import("./commands/verify-bundle.ts"),
    },
    "prepare-archive": {
      summary: "write one tar with the image and all that verifies it",
      load: () => import("./commands/prepare-archive.ts"),
    },
    "load-archive": {
      summary: "verify an archive fully offline, then load it",
      load: () => import("./commands/load-archive.ts"),
    },
  };

/** Top-level help. */
export function usage(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    "dangerzone-image: keep a container image up to date safely, online and air-gapped",
    "",
    "Usage: dangerzone-image <command> [options]",
    "",
    "Commands:",
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n].summary}`),
    "",
    "Run 'dangerzone-image <command> --help' for a command's options and permissions.",
    "Exit status: 0 success, 1 not verified / refused, 2 usage error, 3 other failure.",
  ].join("\n");
}

/** Dispatch `args` to a command; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") {
    console.log("dangerzone-image 0.1.0");
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    console.error(
      `dangerzone-image: unknown command '${name}' (run 'dangerzone-image --help' for the list)`,
    );
    return 2;
  }
  const { command } = await entry.load();
  return await command.main(rest);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
