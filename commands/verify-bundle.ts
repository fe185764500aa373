/**
 * `verify-bundle`: verify a Sigstore bundle for a file or digest, offline.
 * The syntax is the Sigstore client conformance protocol's (sigstore-conformance
 * `docs/cli_protocol.md`):
 *
 * ```
 * verify-bundle [--staging] --bundle FILE --certificate-identity ID --certificate-oidc-issuer URL [--trusted-root FILE] FILE_OR_DIGEST
 * verify-bundle [--staging] --bundle FILE --key PEM [--trusted-root FILE] FILE_OR_DIGEST
 * ```
 *
 * The logic lives in `lib/bundle/verify_bundle.ts`.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { SignatureFormatError, UsageError } from "../lib/errors/errors.ts";
import { resolveArtifact } from "../lib/bundle/artifact.ts";
import { verifyBundle } from "../lib/bundle/verify_bundle.ts";
import { loadTrustedKey } from "../lib/trust/trusted_key.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { readLocalText } from "../lib/fs/read_file.ts";

const USAGE =
  "verify-bundle --bundle FILE (--certificate-identity ID | --certificate-identity-regexp RE) (--certificate-oidc-issuer URL | --certificate-oidc-issuer-regexp RE) | --key PEM [--trusted-root FILE] FILE_OR_DIGEST";

async function readBundle(path: string): Promise<unknown> {
  const text = await readLocalText(path, { what: "bundle", limit: 16 * 1024 * 1024 });
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SignatureFormatError(`bundle ${path} is not JSON`, { cause });
  }
}

/** The `verify-bundle` command. */
export const command = defineCommand({
  name: "verify-bundle",
  summary: "verify a Sigstore bundle for a file or digest, offline",
  usage: USAGE,
  description: [
    "Verifies a Sigstore bundle (v0.1-v0.3, message signature or DSSE, Rekor v1 and v2",
    "entries, RFC 3161 timestamps) against the trusted root (--trusted-root, default the",
    "embedded public-good root) and either a certificate identity and issuer (matched",
    "exactly, or by a regular expression matched against the whole value, as cosign does)",
    "or a trusted public key (--key). FILE_OR_DIGEST is a file, or",
    "sha256:<64 hex> when no such file exists; for a DSSE bundle it must be a subject",
    "of the in-toto statement. No network is used.",
  ].join("\n"),
  options: {
    "bundle": { type: "string", value: "FILE", description: "the Sigstore bundle (required)" },
    "certificate-identity": {
      type: "string",
      value: "ID",
      description: "the signer identity the certificate must name exactly",
    },
    "certificate-identity-regexp": {
      type: "string",
      value: "RE",
      description: "a regular expression the whole certificate identity must match",
    },
    "certificate-oidc-issuer": {
      type: "string",
      value: "URL",
      description: "the OIDC issuer the certificate must name exactly",
    },
    "certificate-oidc-issuer-regexp": {
      type: "string",
      value: "RE",
      description: "a regular expression the whole OIDC issuer must match",
    },
    "staging": {
      type: "boolean",
      description:
        "Sigstore staging (conformance protocol); needs --trusted-root, none is embedded",
    },
  },
  globals: {
    key: "a trusted public key (PEM) instead of a certificate identity",
    "trusted-root": true,
  },
  positionals: { min: 1, max: 1, names: "FILE_OR_DIGEST" },
  examples: [
    "dangerzone-image verify-bundle --bundle a.sigstore.json --certificate-identity me@example.org --certificate-oidc-issuer https://accounts.google.com a.txt",
    "dangerzone-image verify-bundle --bundle a.sigstore.json --key cosign.pub sha256:0123…",
  ],
  permissions: "--allow-read=<bundle>,<artifact>,<key>,<trusted root>",
  async run(ctx) {
    const bundlePath = ctx.options.bundle;
    const hint = `usage: dangerzone-image ${USAGE}`;
    type Exact = "certificate-identity" | "certificate-oidc-issuer";
    const exact = (name: Exact, re: `${Exact}-regexp`): string | { regex: string } | undefined => {
      const a = ctx.options[name];
      const b = ctx.options[re];
      if (a !== undefined && b !== undefined) {
        throw new UsageError(`--${name} and --${re} exclude each other`, { hint });
      }
      return b !== undefined ? { regex: b } : a;
    };
    const identity = exact("certificate-identity", "certificate-identity-regexp");
    const issuer = exact("certificate-oidc-issuer", "certificate-oidc-issuer-regexp");
    const keyPath = ctx.global.key;
    if (!bundlePath) throw new UsageError("--bundle FILE is required", { hint });
    if (keyPath !== undefined && (identity !== undefined || issuer !== undefined)) {
      throw new UsageError(
        "--key and --certificate-identity(-regexp)/--certificate-oidc-issuer(-regexp) are exclusive",
        { hint },
      );
    }
    if (keyPath === undefined && (!identity || !issuer)) {
      throw new UsageError(
        "pass --key, or both --certificate-identity(-regexp) and --certificate-oidc-issuer(-regexp)",
        { hint },
      );
    }
    if (ctx.options.staging && ctx.global.trustedRoot === undefined) {
      throw new UsageError("no staging trusted root is embedded", {
        hint: "pass the staging trusted_root.json with --trusted-root",
      });
    }
    const trustedRoot = await loadTrustedRoot(ctx.global.trustedRoot, ctx.global.env);
    const key = keyPath === undefined ? undefined : await loadTrustedKey(keyPath);
    const bundle = await readBundle(bundlePath);
    const artifact = await resolveArtifact(ctx.args[0]);
    const result = verifyBundle(bundle, artifact, {
      trustedRoot,
      ...(key ? { key } : { identity: { subjectAlternativeName: identity!, issuer: issuer! } }),
    });
    if (ctx.global.json) {
      ctx.out(JSON.stringify({
        ok: true,
        artifact: ctx.args[0],
        ...result,
        signatures: 0,
        bundles: 1,
      }));
    } else {
      const who = result.signer.type === "key"
        ? `key ${result.signer.source}`
        : `${result.signer.subjectAlternativeName} (${result.signer.issuer})`;
      const logs = result.tlog.map((t) => `${t.kind}/${t.kindVersion} #${t.logIndex}`).join(", ");
      ctx.out(
        `Verified OK: ${ctx.args[0]} signed by ${who}${logs ? `; logged: ${logs}` : ""}`,
      );
    }
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
