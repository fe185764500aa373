/**
 * `deno task release --key KEY [--rekor-url URL] [--trusted-root FILE] [--dir DIR] [--no-build]`:
 * make a release in `DIR` (default `dist/`) that verifies itself offline.
 *
 * 1. Build `dangerzone-image.js` there (`scripts/bundle.ts`) unless `--no-build`.
 * 2. Take every artifact present: the bundle and the compiled binaries
 *    `deno task compile` wrote ({@linkcode artifactNames}).
 * 3. Write `SHA256SUMS` (`sha256sum -c` format) over them.
 * 4. Sign each artifact and `SHA256SUMS` with `sign-blob`'s library: a
 *    Sigstore bundle `<name>.sigstore.json` (message signature, hashedrekord
 *    entry in `--rekor-url`), each verified against `--trusted-root` with
 *    this project's verifier before it is written.
 *
 * Check a release, offline:
 *
 *     sha256sum -c SHA256SUMS
 *     deno run --no-config --allow-read=. dangerzone-image.js verify-bundle \
 *       --key publisher.pub --bundle SHA256SUMS.sigstore.json SHA256SUMS
 *
 * (add `--trusted-root FILE` for a private Rekor). Password of an encrypted
 * key: `$COSIGN_PASSWORD` or a prompt.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { errorLine, exitCodeOf } from "../lib/cli/command.ts";
import { UsageError } from "../lib/errors/errors.ts";
import { writeFileAtomic } from "../lib/fs/atomic.ts";
import { cosignPasswordProvider } from "../lib/keys/password.ts";
import { signerFromKeyRef } from "../lib/keys/key_ref.ts";
import { signBlob } from "../lib/publish/sign_blob.ts";
import { DEFAULT_REKOR_URL } from "../lib/transparency/rekor.ts";
import { loadTrustedRoot } from "../lib/trust/trusted_root.ts";
import { buildBundle, ROOT } from "./bundle.ts";
import { BUNDLE_NAME, outputName, sha256File, sha256sumsText, TARGETS } from "./compile.ts";

export { BUNDLE_NAME };

/** The checksum file's name. */
export const SUMS_NAME = "SHA256SUMS";

/** Suffix of each artifact's Sigstore bundle. */
export const SIGSTORE_SUFFIX = ".sigstore.json";

/** Every artifact a release may hold: the bundle, then the binaries per target. */
export function artifactNames(): string[] {
  return [BUNDLE_NAME, ...TARGETS.map(outputName)];
}

/** What {@linkcode makeRelease} wrote. */
export interface Release {
  dir: string;
  artifacts: { name: string; sha256: string; size: number; bundle: string; logIndex: number }[];
  sums: string;
}

/** Options of {@linkcode makeRelease}. */
export interface ReleaseOptions {
  dir: string;
  keyRef: string;
  rekorUrl: string;
  trustedRootPath?: string;
  build: boolean;
}

/** Build (optionally), checksum and sign the release in `opts.dir`. */
export async function makeRelease(opts: ReleaseOptions): Promise<Release> {
  const trustedRoot = await loadTrustedRoot(opts.trustedRootPath);
  const signer = await signerFromKeyRef(opts.keyRef, cosignPasswordProvider());
  await Deno.mkdir(opts.dir, { recursive: true });
  if (opts.build) await buildBundle(join(opts.dir, BUNDLE_NAME));

  const present: { name: string; sha256: string; size: number }[] = [];
  for (const name of artifactNames()) {
    const path = join(opts.dir, name);
    const info = await Deno.stat(path).catch(() => undefined);
    if (!info?.isFile) continue;
    present.push({ name, sha256: await sha256File(path), size: info.size });
  }
  if (present.length === 0) {
    throw new UsageError(`no artifact in ${opts.dir}`, {
      hint: "run without --no-build, or deno task compile first",
    });
  }
  const sums = sha256sumsText(present);
  await writeFileAtomic(join(opts.dir, SUMS_NAME), sums, { mode: 0o644 });

  const artifacts: Release["artifacts"] = [];
  for (const a of [...present, { name: SUMS_NAME, sha256: "", size: 0 }]) {
    const path = join(opts.dir, a.name);
    const bytes = await Deno.readFile(path);
    const signed = await signBlob({
      bytes,
      path: a.name,
      signer,
      rekorUrl: opts.rekorUrl,
      trustedRoot,
    });
    const bundle = `${a.name}${SIGSTORE_SUFFIX}`;
    await writeFileAtomic(join(opts.dir, bundle), JSON.stringify(signed.bundle) + "\n", {
      mode: 0o644,
    });
    artifacts.push({
      name: a.name,
      sha256: signed.sha256,
      size: bytes.byteLength,
      bundle,
      logIndex: signed.rekor.logIndex,
    });
  }
  return { dir: opts.dir, artifacts, sums };
}

const USAGE =
  "usage: deno task release --key KEY|pkcs11:URI [--rekor-url URL] [--trusted-root FILE] [--dir DIR] [--no-build]";

/** The script; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        key: { type: "string" },
        "rekor-url": { type: "string" },
        "trusted-root": { type: "string" },
        dir: { type: "string" },
        "no-build": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`release: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.key) {
    console.error(`release: --key is required (the publisher's private key)\n${USAGE}`);
    return 2;
  }
  try {
    const r = await makeRelease({
      dir: values.dir ?? join(ROOT, "dist"),
      keyRef: values.key,
      rekorUrl: values["rekor-url"] ?? DEFAULT_REKOR_URL,
      trustedRootPath: values["trusted-root"],
      build: !values["no-build"],
    });
    for (const a of r.artifacts) {
      console.log(`${a.name}  ${a.size} bytes  ${a.bundle}  (log index ${a.logIndex})`);
    }
    console.error(
      `release in ${r.dir}: check with 'sha256sum -c ${SUMS_NAME}' and ` +
        `'verify-bundle --key PUB --bundle ${SUMS_NAME}${SIGSTORE_SUFFIX} ${SUMS_NAME}'`,
    );
    return 0;
  } catch (e) {
    console.error(errorLine("release", e).replace(/^dangerzone-image release/, "release"));
    return exitCodeOf(e);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
