/**
 * The Sigstore trusted root (`--trusted-root FILE`, default: the public-good
 * root shipped in `public_good_trusted_root.json`, extracted from
 * `@sigstore/tuf`'s `seeds.json` by `scripts/refresh_trusted_root.ts`; no
 * network, no TUF client at run time). It holds the Rekor log keys, Fulcio
 * CAs, CT logs and TSAs that verification trusts.
 *
 * `SIGSTORE_REKOR_PUBLIC_KEY=FILE` (a PEM public key; the variable cosign
 * and Dangerzone document for pinning or rotating the Rekor key) replaces
 * every transparency log of the root by one log with that key (see
 * {@linkcode withRekorPublicKey}).
 *
 * @module
 */

import { TrustedRoot } from "../npm/sigstore_protobuf_specs.ts";
import { toTrustMaterial } from "../npm/sigstore_verify.ts";
import { createHash, createPublicKey } from "node:crypto";
import { TrustMaterialError, UsageError } from "../errors/errors.ts";
import { type EnvReader, readEnv } from "../config/paths.ts";
import publicGoodRoot from "./public_good_trusted_root.json" with { type: "json" };
import { isRecord } from "../json/record.ts";
import { readLocalText } from "../fs/read_file.ts";

/** A parsed, checked trusted root. */
export interface LoadedTrustedRoot {
  /** File path, or `embedded:public-good`. */
  source: string;
  /** The protobuf-specs form `toTrustMaterial` takes. */
  root: TrustedRoot;
  /** The JSON it was read from. */
  json: Record<string, unknown>;
}

/** Source name of the embedded public-good root. */
export const PUBLIC_GOOD_SOURCE = "embedded:public-good";

function fail(source: string, what: string): never {
  throw new TrustMaterialError(`trusted root ${source} refused: ${what}`, {
    hint: "pass a Sigstore trusted_root.json with --trusted-root",
  });
}

function validDate(v: unknown): boolean {
  return typeof v === "string" && !Number.isNaN(Date.parse(v));
}

/**
 * `value` with every JSON `null` member removed: protobuf JSON writers emit
 * `null` for unset fields (e.g. `validFor.end: null`), which means absent.
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out;
}

/**
 * Check and parse a trusted root JSON document (JSON `null` members read as absent). Refuses a transparency log
 * whose public key has no `validFor.start` (a log key valid "since forever"
 * would accept entries dated before the log existed), malformed dates, and
 * anything `toTrustMaterial` cannot turn into keys and certificates.
 * @throws TrustMaterialError
 */
export function parseTrustedRoot(input: unknown, source: string): LoadedTrustedRoot {
  const json = withoutNulls(input);
  if (!isRecord(json)) fail(source, "not a JSON object");
  const mediaType = json.mediaType;
  if (
    typeof mediaType !== "string" ||
    !mediaType.startsWith("application/vnd.dev.sigstore.trustedroot")
  ) {
    fail(source, `unexpected mediaType ${JSON.stringify(mediaType)}`);
  }
  const tlogs = json.tlogs;
  if (tlogs !== undefined && !Array.isArray(tlogs)) fail(source, "tlogs is not a list");
  for (const [i, t] of (tlogs ?? []).entries()) {
    const pk = isRecord(t) && isRecord(t.publicKey) ? t.publicKey : undefined;
    if (!pk) fail(source, `tlogs[${i}] has no publicKey`);
    const vf = isRecord(pk.validFor) ? pk.validFor : undefined;
    if (!vf || vf.start === undefined) fail(source, `tlogs[${i}] has no publicKey.validFor.start`);
    if (!validDate(vf.start)) fail(source, `tlogs[${i}] validFor.start is not a date`);
    if (vf.end !== undefined && !validDate(vf.end)) {
      fail(source, `tlogs[${i}] validFor.end is not a date`);
    }
    if (!isRecord(t.logId) || typeof t.logId.keyId !== "string") {
      fail(source, `tlogs[${i}] has no logId.keyId`);
    }
  }
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(json);
    toTrustMaterial(root);
  } catch (cause) {
    throw new TrustMaterialError(
      `trusted root ${source} refused: ${(cause as Error).message ?? cause}`,
      { cause },
    );
  }
  return { source, root, json };
}

/** The embedded public-good Sigstore trusted root. */
export function publicGoodTrustedRoot(): LoadedTrustedRoot {
  return parseTrustedRoot(structuredClone(publicGoodRoot), PUBLIC_GOOD_SOURCE);
}

/** The environment variable naming a PEM file whose key replaces the root's Rekor keys. */
export const REKOR_PUBLIC_KEY_ENV = "SIGSTORE_REKOR_PUBLIC_KEY";

function keyDetailsOf(key: ReturnType<typeof createPublicKey>, source: string): string {
  const type = key.asymmetricKeyType;
  if (type === "ed25519") return "PKIX_ED25519";
  if (type === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return "PKIX_ECDSA_P256_SHA_256";
    if (curve === "secp384r1") return "PKIX_ECDSA_P384_SHA_384";
    if (curve === "secp521r1") return "PKIX_ECDSA_P521_SHA_512";
  }
  if (type === "rsa") return "PKIX_RSA_PKCS1V15_2048_SHA256";
  throw new TrustMaterialError(`${source}: a ${type ?? "unknown"} key cannot be a Rekor log key`, {
    hint: "give the Rekor log's public key (PEM, ECDSA or Ed25519)",
  });
}

/**
 * `root` with all its transparency logs replaced by one whose key is
 * `pem` (what `SIGSTORE_REKOR_PUBLIC_KEY` does in cosign and Dangerzone):
 * its log ID is the sha256 of the key's DER SubjectPublicKeyInfo (Rekor's
 * log ID). Its validity window is the one the root already gives that key
 * when it lists it (earliest start, and end if every listing has one);
 * for a key the root does not know, it starts at the epoch with no end,
 * as cosign treats a key given this way (the key is the user's explicit
 * choice; entries are still checked against it and their inclusion
 * proofs). Fulcio CAs, CT logs and TSAs are kept.
 * @throws TrustMaterialError when `pem` is not a usable public key
 */
function withRekorPublicKey(
  root: LoadedTrustedRoot,
  pem: string,
  source: string,
): LoadedTrustedRoot {
  let key;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (cause) {
    throw new TrustMaterialError(`${source} is not a PEM public key`, {
      cause,
      hint: `point ${REKOR_PUBLIC_KEY_ENV} at the Rekor log's public key (rekor.pub)`,
    });
  }
  if (key.type !== "public") {
    throw new TrustMaterialError(`${source} is not a public key`, {
      hint: `point ${REKOR_PUBLIC_KEY_ENV} at the Rekor log's public key (rekor.pub)`,
    });
  }
  const der = new Uint8Array(key.export({ format: "der", type: "spki" }));
  const keyDetails = keyDetailsOf(key, source);
  const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
  const logId = b64(new Uint8Array(createHash("sha256").update(der).digest()));
  const tlogs = Array.isArray(root.json.tlogs) ? root.json.tlogs.filter(isRecord) : [];
  const same = tlogs.filter((t) => isRecord(t.logId) && t.logId.keyId === logId);
  const windows = same.flatMap((t) =>
    isRecord(t.publicKey) && isRecord(t.publicKey.validFor) ? [t.publicKey.validFor] : []
  );
  const starts = windows.map((w) => String(w.start)).sort((a, b) => Date.parse(a) - Date.parse(b));
  const ends = windows.map((w) => w.end);
  const validFor: Record<string, string> = {
    start: starts[0] ?? new Date(0).toISOString(),
  };
  if (ends.length > 0 && ends.every((e) => typeof e === "string")) {
    validFor.end = (ends as string[]).sort((a, b) => Date.parse(b) - Date.parse(a))[0];
  }
  const baseUrl = typeof same[0]?.baseUrl === "string"
    ? same[0].baseUrl
    : typeof tlogs[0]?.baseUrl === "string"
    ? tlogs[0].baseUrl
    : "https://rekor.sigstore.dev";
  const json = {
    ...structuredClone(root.json),
    tlogs: [{
      baseUrl,
      hashAlgorithm: "SHA2_256",
      publicKey: { rawBytes: b64(der), keyDetails, validFor },
      logId: { keyId: logId },
    }],
  };
  return parseTrustedRoot(json, `${root.source} with the Rekor key of ${source}`);
}

function readTrustFile(path: string, what: string): Promise<string> {
  return readLocalText(path, {
    what,
    limit: 16 * 1024 * 1024,
    missing: (cause) =>
      new UsageError(`${what} ${path} does not exist`, {
        hint: what === "trusted root"
          ? "pass the path of a trusted_root.json with --trusted-root"
          : "give the path of a PEM public key",
        cause,
      }),
  });
}

/**
 * Load `--trusted-root FILE`, or the embedded public-good root; then, when
 * `env` has `SIGSTORE_REKOR_PUBLIC_KEY=FILE`, replace its Rekor keys by
 * that file's ({@linkcode withRekorPublicKey}). `env` defaults to this
 * process's environment.
 * @throws IoError (unreadable), TrustMaterialError (not JSON, refused, not a key).
 */
export async function loadTrustedRoot(
  path?: string,
  env: EnvReader = readEnv,
): Promise<LoadedTrustedRoot> {
  const root = await loadTrustedRootFile(path);
  const rekorKey = env(REKOR_PUBLIC_KEY_ENV);
  if (!rekorKey) return root;
  const pem = await readTrustFile(rekorKey, `${REKOR_PUBLIC_KEY_ENV}`);
  return withRekorPublicKey(root, pem, `${REKOR_PUBLIC_KEY_ENV}=${rekorKey}`);
}

async function loadTrustedRootFile(path?: string): Promise<LoadedTrustedRoot> {
  if (path === undefined) return publicGoodTrustedRoot();
  const text = await readTrustFile(path, "trusted root");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TrustMaterialError(`trusted root ${path} is not JSON`, { cause });
  }
  return parseTrustedRoot(json, path);
}
