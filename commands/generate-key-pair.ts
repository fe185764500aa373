/**
 * `generate-key-pair`: write a cosign-compatible encrypted key pair.
 *
 * @module
 */

import { defineCommand, runAsMain } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import {
  assertKeyPairAbsent,
  keyPairPaths,
  writeKeyPairFiles,
} from "../lib/keys/key_pair_files.ts";
import { cosignPasswordProvider } from "../lib/keys/password.ts";
import { generateCosignKeyPair } from "../lib/keys/private_key.ts";

/** The `generate-key-pair` command. */
export const command = defineCommand({
  name: "generate-key-pair",
  summary: "write a cosign-compatible encrypted key pair",
  usage: "generate-key-pair [--output-key-prefix NAME]",
  description:
    "Creates an ECDSA P-256 key pair: NAME.key (cosign 'ENCRYPTED SIGSTORE PRIVATE KEY', scrypt + NaCl secretbox, mode 0600) and NAME.pub (PEM public key). The password comes from COSIGN_PASSWORD, else it is asked twice on the terminal. Existing files are never overwritten.",
  options: {
    "output-key-prefix": {
      type: "string",
      value: "NAME",
      description: "write NAME.key and NAME.pub (default cosign)",
    },
  },
  env: { COSIGN_PASSWORD: "the new key's password (else asked twice on the terminal)" },
  positionals: { min: 0, max: 0 },
  examples: [
    "COSIGN_PASSWORD=\u2026 dangerzone-image generate-key-pair --output-key-prefix release",
  ],
  permissions: "--allow-read=<output dir> --allow-write=<output dir> --allow-env=COSIGN_PASSWORD",
  async run(ctx) {
    const prefix = ctx.options["output-key-prefix"] ?? "cosign";
    if (prefix === "" || prefix.endsWith("/")) {
      throw new UsageError("--output-key-prefix needs a file name prefix, e.g. 'release'");
    }
    const paths = keyPairPaths(prefix);
    await assertKeyPairAbsent(paths);
    const password = await cosignPasswordProvider({ env: ctx.global.env })({ confirm: true });
    const pair = await generateCosignKeyPair(password);
    await writeKeyPairFiles(paths, pair);
    if (ctx.global.json) {
      ctx.out(
        JSON.stringify({ ok: true, privateKey: paths.privateKey, publicKey: paths.publicKey }),
      );
    } else {
      ctx.out(
        `Private key written to ${paths.privateKey}\nPublic key written to ${paths.publicKey}`,
      );
    }
    return 0;
  },
});

if (import.meta.main) await runAsMain(command);
