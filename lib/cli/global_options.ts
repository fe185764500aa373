/**
 * The program name and the global options every command accepts, before or
 * after the command name. Nothing is imported here: `mod.ts` reads this to
 * find the command name without loading anything else (fast `--help`).
 *
 * @module
 */

/** Program name as users type it. */
export const PROGRAM = "dangerzone-image";

/** One command-specific flag. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Placeholder shown in help, e.g. `FILE`. */
  value?: string;
  /** A boolean flag's value when it is not given (default false), e.g. `--tlog-upload`. */
  default?: boolean;
  description: string;
}

/** The global options (`../shared/cli.md`, "Global options"), with help text. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  "data-dir": {
    type: "string",
    value: "DIR",
    description:
      "where signatures and rollback state live (default $DANGERZONE_IMAGE_DATA_DIR, $XDG_DATA_HOME/dangerzone, ~/.local/share/dangerzone)",
  },
  key: {
    type: "string",
    value: "FILE",
    description: "trusted cosign public key (default: Dangerzone's published key)",
  },
  "trusted-root": {
    type: "string",
    value: "FILE",
    description: "Sigstore trusted_root.json (default: the public-good root, embedded)",
  },
  runtime: {
    type: "string",
    value: "R",
    description:
      "podman, docker, or oci:DIR (default: podman, else docker, else oci:<data-dir>/images)",
  },
  authfile: {
    type: "string",
    value: "FILE",
    description:
      "registry credentials file (default $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json, ~/.docker/config.json)",
  },
  "insecure-registry": {
    type: "string",
    multiple: true,
    value: "HOST[:PORT]",
    description: "allow plain HTTP to that registry (repeatable; loopback always allowed)",
  },
  "signed-identity": {
    type: "string",
    multiple: true,
    value: "REPO",
    description:
      "also accept signatures made for REPO (a mirror, a renamed image; repeatable; default: the image's own repository)",
  },
  proxy: {
    type: "string",
    value: "URL",
    description: "http://, https:// or socks5h:// proxy (default $HTTPS_PROXY / $ALL_PROXY)",
  },
  timeout: {
    type: "string",
    value: "SECONDS",
    description: "total time budget for the command's network transfers (default 3600)",
  },
  json: { type: "boolean", description: "one JSON document on stdout instead of prose" },
  quiet: {
    type: "boolean",
    short: "q",
    description: "print nothing on stdout but --json documents (errors still go to stderr)",
  },
  progress: {
    type: "string",
    value: "MODE",
    description: "auto (bars on a TTY), plain (lines), none (default auto)",
  },
  debug: { type: "boolean", description: "show stack traces and request logs on stderr" },
  help: { type: "boolean", short: "h", description: "show this help" },
};
