/**
 * `sign-blob FILE --key KEY --bundle OUT [--rekor-url URL]`: cosign
 * sign-blob. A v0.3 Sigstore bundle with a message signature over FILE and
 * its `hashedrekord` entry in Rekor, verified with this project's verifier
 * (against `--trusted-root`) before OUT is written atomically. Check it
 * with `verify-bundle --bundle OUT --key KEY.pub FILE`.
 *
 * The logic lives in `lib/publish/sign_blob.ts`.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { writeFileAtomic } from "../lib/fs/atomic.ts";
import { cosignPasswordProvider } from "../lib/keys/password.ts";
import { signerFromKeyRef } from "../lib/keys/key_ref.ts";
import { signBlob } from "../lib/publish/sign_blob.ts";
import { DEFAULT_REKOR_URL } from "../lib/transparency/rekor.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { readLocalFile } from "../lib/fs/read_file.ts";
import { proxyForUrl } from "../lib/registry/from_options.ts";

const USAGE = "sign-blob FILE --key FILE|pkcs11:URI --bundle OUT [--rekor-url URL]";

function readInput(path: string): Promise<Uint8Array> {
  return readLocalFile(path, {
    what: "file",
    missing: () => new UsageError(`${path} does not exist`, { hint: "give the file to sign" }),
  });
}

/** The `sign-blob` command. */
export const command = defineCommand({
  name: "sign-blob",
  summary: "sign a file into a Sigstore bundle (cosign sign-blob), logged in Rekor",
  usage: USAGE,
  description: [
    "--key names the PRIVATE key here (as with cosign sign-blob). The signature over FILE's",
    "bytes is logged in Rekor as a hashedrekord entry and put in a v0.3 Sigstore bundle,",
    "which is verified against --trusted-root (the root of a private Rekor, if you use one)",
    "before OUT is written. Password: $COSIGN_PASSWORD or a prompt. Check the result with",
    "'verify-bundle --bundle OUT --key KEY.pub FILE', offline.",
  ].join("\n"),
  options: {
    "bundle": { type: "string", value: "OUT", description: "where to write the bundle (required)" },
    "rekor-url": {
      type: "string",
      value: "URL",
      description:
        `Rekor transparency log to record the signature in (default ${DEFAULT_REKOR_URL})`,
    },
  },
  globals: {
    key: "the PRIVATE key to sign with: a cosign key file or pkcs11:URI (required)",
    "trusted-root": "trusted_root.json of the Rekor used (required with a private --rekor-url)",
    proxy: "proxy for the Rekor upload (default: Tor on Tails, else $HTTPS_PROXY / $ALL_PROXY)",
  },
  env: {
    COSIGN_PASSWORD: "the private key's password (else asked on the terminal)",
    "HTTPS_PROXY, ALL_PROXY": "proxy for the Rekor upload (never for loopback)",
  },
  positionals: { min: 1, max: 1, names: "FILE" },
  examples: [
    "COSIGN_PASSWORD=… dangerzone-image sign-blob --key cosign.key --bundle SHA256SUMS.sigstore.json SHA256SUMS",
    "dangerzone-image sign-blob --key cosign.key --rekor-url http://127.0.0.1:3000 --trusted-root local/trusted_root.json --bundle a.sigstore.json a.tar",
  ],
  permissions:
    "--allow-net=<rekor host> --allow-read=<file>,<key file>,<trusted root> --allow-write=<bundle> --allow-env [--allow-ffi=<PKCS#11 module> for pkcs11: keys]",
  async run(ctx) {
    const out = ctx.options.bundle;
    const hint = `usage: dangerzone-image ${USAGE}`;
    if (!out) throw new UsageError("--bundle OUT is required", { hint });
    const keyRef = ctx.global.key;
    if (!keyRef) {
      throw new UsageError("missing --key FILE|pkcs11:URI (the private key to sign with)", {
        hint,
      });
    }
    const path = ctx.args[0];
    const trustedRoot = await loadTrustedRoot(ctx.global.trustedRoot, ctx.global.env);
    const bytes = await readInput(path);
    const signer = await signerFromKeyRef(
      keyRef,
      cosignPasswordProvider({ env: ctx.global.env }),
      ctx.global.env,
    );
    const rekorUrl = ctx.options["rekor-url"] ?? DEFAULT_REKOR_URL;
    const signed = await signBlob({
      bytes,
      path,
      signer,
      rekorUrl,
      // Through the run's proxy (--proxy, Tor on Tails), as every other request.
      rekorProxy: proxyForUrl(ctx.global, rekorUrl),
      trustedRoot,
    });
    await writeFileAtomic(out, JSON.stringify(signed.bundle) + "\n", { mode: 0o644 });
    const tlog = [{
      logID: signed.rekor.logID,
      logIndex: signed.rekor.logIndex,
      integratedTime: signed.rekor.integratedTime,
      uuid: signed.rekor.uuid,
    }];
    if (ctx.global.json) {
      ctx.out(JSON.stringify({ ok: true, file: path, sha256: signed.sha256, bundle: out, tlog }));
    } else {
      ctx.out(`Signed ${path} (sha256 ${signed.sha256}) into ${out}`);
      ctx.out(`  transparency log index ${tlog[0].logIndex} (entry ${tlog[0].uuid})`);
    }
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
