/**
 * `sign`: sign IMAGE@DIGEST the cosign way (key file or PKCS#11 token).
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `sign` command. */
export const command = defineCommand({
  name: "sign",
  summary: "sign IMAGE@DIGEST the cosign way (key file or PKCS#11 token)",
  usage:
    "sign IMAGE@DIGEST --key FILE|pkcs11:URI [--rekor-url URL] [--tlog-upload=false] [-a KEY=VALUE]",
  options: {
    "rekor-url": {
      type: "string",
      value: "URL",
      description:
        "Rekor transparency log to record the signature in (default https://rekor.sigstore.dev)",
    },
    "tlog-upload": {
      type: "string",
      value: "BOOL",
      description: "true (default) or false; an unlogged signature cannot pass 'upgrade'",
    },
    "annotations": {
      type: "string",
      short: "a",
      multiple: true,
      value: "KEY=VALUE",
      description: "extra annotation in the signed payload (repeatable)",
    },
    "bundle": {
      type: "boolean",
      description: "also attach a Sigstore bundle through the OCI referrers API",
    },
  },
  positionals: { min: 1, max: 1, names: "IMAGE@DIGEST" },
  examples: [
    "COSIGN_PASSWORD=\u2026 dangerzone-image sign --key cosign.key ghcr.io/me/app@sha256:\u2026",
    "dangerzone-image sign --key 'pkcs11:token=dz;object=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234' ghcr.io/me/app@sha256:\u2026",
  ],
  permissions:
    "--allow-net=<registry host>,<rekor host> --allow-read=<key file>,<auth file> --allow-env [--allow-ffi for pkcs11:]",
  run() {
    return Promise.reject(new NotImplementedError("'sign'"));
  },
});

if (import.meta.main) await runAsMain(command);
