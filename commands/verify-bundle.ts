/**
 * `verify-bundle`: verify a Sigstore bundle for a file or digest, offline.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { NotImplementedError } from "../lib/cli/errors.ts";

/** The `verify-bundle` command. */
export const command = defineCommand({
  name: "verify-bundle",
  summary: "verify a Sigstore bundle for a file or digest, offline",
  usage:
    "verify-bundle --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key PEM) [--trusted-root FILE] FILE_OR_DIGEST",
  options: {
    "bundle": { type: "string", value: "FILE", description: "the Sigstore bundle (required)" },
    "certificate-identity": {
      type: "string",
      value: "ID",
      description: "the signer identity the certificate must name exactly",
    },
    "certificate-oidc-issuer": {
      type: "string",
      value: "URL",
      description: "the OIDC issuer the certificate must name exactly",
    },
  },
  positionals: { min: 1, max: 1, names: "FILE_OR_DIGEST" },
  examples: [
    "dangerzone-image verify-bundle --bundle a.sigstore.json --certificate-identity me@example.org --certificate-oidc-issuer https://accounts.google.com a.txt",
  ],
  permissions: "--allow-read=<bundle>,<artifact>,<key>,<trusted root>",
  run() {
    return Promise.reject(new NotImplementedError("'verify-bundle'"));
  },
});

if (import.meta.main) await runAsMain(command);
