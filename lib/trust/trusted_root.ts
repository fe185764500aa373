/**
 * The Sigstore trusted root (`--trusted-root FILE`, default: the public-good
 * root shipped in `public_good_trusted_root.json`, extracted from
 * `@sigstore/tuf`'s `seeds.json` by `scripts/refresh_trusted_root.ts`; no
 * network, no TUF client at run time). It holds the Rekor log keys, Fulcio
 * CAs, CT logs and TSAs that verification trusts.
 *
 * @module
 */

import { TrustedRoot } from "../npm/sigstore_protobuf_specs.ts";
import { toTrustMaterial, type TrustMaterial } from "../npm/sigstore_verify.ts";
import { DzError, EXIT_USAGE, IoError, TrustMaterialError } from "../cli/errors.ts";
import publicGoodRoot from "./public_good_trusted_root.json" with { type: "json" };

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

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
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

/**
 * Load `--trusted-root FILE`, or the embedded public-good root.
 * @throws IoError (unreadable), TrustMaterialError (not JSON, refused).
 */
export async function loadTrustedRoot(path?: string): Promise<LoadedTrustedRoot> {
  if (path === undefined) return publicGoodTrustedRoot();
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (cause) {
    if (cause instanceof Deno.errors.NotCapable || cause instanceof Deno.errors.PermissionDenied) {
      throw cause;
    }
    if (cause instanceof Deno.errors.NotFound) {
      throw new DzError("NOT_FOUND", EXIT_USAGE, `trusted root ${path} does not exist`, {
        hint: "pass the path of a trusted_root.json with --trusted-root",
        cause,
      });
    }
    throw new IoError(`cannot read trusted root ${path}: ${(cause as Error).message}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new TrustMaterialError(`trusted root ${path} is not JSON`, { cause });
  }
  return parseTrustedRoot(json, path);
}

/** Build the verifier's trust material: the root plus, optionally, one trusted key. */
export function trustMaterialFor(
  root: LoadedTrustedRoot,
  keyFinder?: Parameters<typeof toTrustMaterial>[1],
): TrustMaterial {
  return toTrustMaterial(root.root, keyFinder);
}
