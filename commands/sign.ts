/**
 * `sign`: sign IMAGE@DIGEST the cosign way (key file or PKCS#11 token).
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { cosignPasswordProvider } from "../lib/keys/password.ts";
import { signerFromKeyRef } from "../lib/keys/key_ref.ts";
import { signImage } from "../lib/publish/sign_image.ts";
import { signImageBundle } from "../lib/publish/bundle_sign.ts";
import { signManifests } from "../lib/publish/sign_recursive.ts";
import { clientFor, proxyForUrl } from "../lib/registry/from_options.ts";
import { formatReference, parseRegistryReference } from "../lib/registry/reference.ts";
import { DEFAULT_REKOR_URL } from "../lib/transparency/rekor.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";

function parseAnnotations(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i <= 0) throw new UsageError(`-a '${v}' is not KEY=VALUE`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** The `sign` command. */
export const command = defineCommand({
  name: "sign",
  summary: "sign IMAGE@DIGEST the cosign way (key file or PKCS#11 token)",
  usage:
    "sign IMAGE@DIGEST --key FILE|pkcs11:URI [--rekor-url URL] [--tlog-upload=false] [-a KEY=VALUE] [--recursive] [--bundle] [-y]",
  description:
    "--key names the PRIVATE key here (as with cosign sign). The signature is logged in Rekor,\n" +
    "verified against --trusted-root (use the root of a private Rekor with it), then appended\n" +
    "to the image's sha256-<hex>.sig manifest. Password: $COSIGN_PASSWORD or a prompt.\n" +
    "With --bundle, sign the cosign v3 way instead: a DSSE bundle of a\n" +
    "https://sigstore.dev/cosign/sign/v1 statement, logged in Rekor as a dsse entry, attached\n" +
    "as an OCI referrer of the image (and listed in its sha256-<hex> fallback tag index).",
  options: {
    "rekor-url": {
      type: "string",
      value: "URL",
      description:
        "Rekor transparency log to record the signature in (default https://rekor.sigstore.dev)",
    },
    "tlog-upload": {
      type: "boolean",
      default: true,
      description:
        "record the signature in Rekor (default); --tlog-upload=false skips it, and 'upgrade' refuses such a signature",
    },
    "annotations": {
      type: "string",
      short: "a",
      multiple: true,
      value: "KEY=VALUE",
      description: "extra annotation in the signed payload (repeatable)",
    },
    "recursive": {
      type: "boolean",
      description:
        "for an index: also sign every manifest it lists (one log entry each), as Dangerzone's release does",
    },
    "bundle": {
      type: "boolean",
      description:
        "attach a cosign v3 Sigstore bundle (OCI referrer) instead of a .sig signature; needs the log",
    },
    "yes": {
      type: "boolean",
      short: "y",
      description:
        "skip confirmation prompts (accepted for cosign compatibility; sign never prompts)",
    },
  },
  globals: {
    key: "the PRIVATE key to sign with: a cosign key file or pkcs11:URI (required)",
    "trusted-root": "trusted_root.json of the Rekor used (required with a private --rekor-url)",
    authfile: true,
    "insecure-registry": true,
    proxy: true,
  },
  env: {
    COSIGN_PASSWORD: "the private key's password (else asked on the terminal)",
    "REGISTRY_AUTH_FILE, DOCKER_CONFIG": "where registry credentials are read",
    "HTTPS_PROXY, ALL_PROXY":
      "proxy for registry requests and the Rekor upload (never for loopback)",
  },
  positionals: { min: 1, max: 1, names: "IMAGE@DIGEST" },
  examples: [
    "COSIGN_PASSWORD=… dangerzone-image sign --key cosign.key ghcr.io/me/app@sha256:…",
    "dangerzone-image sign --key cosign.key --rekor-url http://127.0.0.1:3000 --trusted-root local/trusted_root.json 127.0.0.1:5000/app@sha256:…",
  ],
  permissions:
    "--allow-net=<registry host>,<rekor host> --allow-read=<key file>,<auth file>,<trusted root> --allow-env [--allow-ffi=<PKCS#11 module> for pkcs11: keys]",
  async run(ctx) {
    const ref = parseRegistryReference(ctx.args[0]);
    if (!ref.digest) {
      throw new UsageError(`'${ctx.args[0]}' names no digest`, {
        hint: "sign by digest (IMAGE@sha256:…) so the signature covers exactly what you checked",
      });
    }
    const keyRef = ctx.global.key;
    if (!keyRef) {
      throw new UsageError("missing --key FILE|pkcs11:URI (the private key to sign with)");
    }
    const tlog = ctx.options["tlog-upload"];
    const rekorUrl = ctx.options["rekor-url"] ?? DEFAULT_REKOR_URL;
    if (tlog && rekorUrl !== DEFAULT_REKOR_URL && ctx.global.trustedRoot === undefined) {
      throw new UsageError(`--rekor-url ${rekorUrl} is not the public-good log`, {
        hint:
          "pass that log's trusted_root.json with --trusted-root (the new entry is verified against it)",
      });
    }
    if (!tlog) {
      ctx.err(
        "WARNING: --tlog-upload=false: this signature is not recorded in a transparency log and " +
          "will be REFUSED by 'upgrade' and 'load-archive'.",
      );
    }
    const annotations = parseAnnotations(ctx.options.annotations);
    const bundle = ctx.options.bundle;
    if (bundle && !tlog) throw new UsageError("--bundle needs the transparency log");
    if (bundle && Object.keys(annotations).length > 0) {
      throw new UsageError("-a annotations are not part of a cosign v3 bundle statement");
    }
    const recursive = ctx.options.recursive;
    const trustedRoot = await loadTrustedRoot(ctx.global.trustedRoot, ctx.global.env);
    const signer = await signerFromKeyRef(
      keyRef,
      cosignPasswordProvider({ env: ctx.global.env }),
      ctx.global.env,
    );
    const client = clientFor(ref.registry, ctx.global);
    // Rekor is reached through the same proxy as the registry (Tor on Tails).
    const rekorProxy = proxyForUrl(ctx.global, rekorUrl);
    try {
      // --recursive: the index first, then every manifest it lists, one log entry each.
      const signed = await signManifests(
        client,
        ref.repository,
        ref.digest,
        recursive,
        async (digest) => {
          const image = formatReference({ ...ref, tag: undefined, digest });
          if (bundle) {
            const r = await signImageBundle({
              client,
              repository: ref.repository,
              digest,
              signer,
              rekorUrl,
              rekorProxy,
              trustedRoot,
            });
            return {
              json: {
                ok: true,
                image,
                digest,
                kind: "bundle",
                manifest: r.manifestDigest,
                signatures: 0,
                bundles: r.referrers,
                added: r.added,
                tlog: [{
                  logID: r.rekor.logID,
                  logIndex: r.rekor.logIndex,
                  integratedTime: r.rekor.integratedTime,
                  uuid: r.rekor.uuid,
                }],
              },
              text: [
                `Signed ${image} (Sigstore bundle)`,
                `  transparency log index ${r.rekor.logIndex} (entry ${r.rekor.uuid})`,
                `  referrer ${r.manifestDigest}, listed in ${ref.registry}/${ref.repository}:sha256-${
                  digest.slice(7)
                } (${r.referrers} referrer${r.referrers === 1 ? "" : "s"})`,
              ],
            };
          }
          const result = await signImage({
            client,
            repository: ref.repository,
            digest,
            signer,
            rekorUrl: tlog ? rekorUrl : undefined,
            rekorProxy,
            trustedRoot,
            annotations,
          });
          return {
            json: {
              ok: true,
              image,
              digest,
              kind: "signature",
              manifest: result.signatureManifest,
              signatures: result.signatures,
              bundles: 0,
              added: result.added,
              tlog: result.rekor
                ? [{
                  logID: result.rekor.logID,
                  logIndex: result.rekor.logIndex,
                  integratedTime: result.rekor.integratedTime,
                  uuid: result.rekor.uuid,
                }]
                : [],
            },
            text: [
              `Signed ${image}`,
              ...(result.rekor
                ? [
                  `  transparency log index ${result.rekor.logIndex} (entry ${result.rekor.uuid})`,
                ]
                : []),
              `  ${
                result.added ? "pushed" : "already present in"
              } ${ref.registry}/${ref.repository}:sha256-${
                digest.slice(7)
              }.sig (${result.signatures} signature${result.signatures === 1 ? "" : "s"})`,
            ],
          };
        },
      );
      if (ctx.global.json) {
        // The top manifest's fields as without --recursive, plus one object per manifest signed.
        ctx.out(JSON.stringify({
          ...signed[0].result.json,
          ...(recursive ? { signed: signed.map((s) => s.result.json) } : {}),
        }));
      } else {
        for (const s of signed) for (const line of s.result.text) ctx.out(line);
      }
      return 0;
    } finally {
      client.close();
    }
  },
});

if (import.meta.main) await runAsMain(command);
