/**
 * The TUF anchor: the `root.json` a chain of Sigstore TUF metadata must
 * verify from, and the repository it belongs to. In production it is the
 * public-good root shipped in `@sigstore/tuf`'s `seeds.json` (embedded in
 * the program, with the `trusted_root.json` target it shipped with); a
 * private deployment (and the tests) name their own with
 * `DANGERZONE_IMAGE_TUF_URL` and `DANGERZONE_IMAGE_TUF_ROOT`. Trust starts
 * here and only here: nothing from the network or an archive is used
 * unless a chain verifies from this root.
 *
 * @module
 */

import seeds from "../npm/sigstore_tuf_seeds.ts";
import { TrustMaterialError, UsageError } from "../errors/errors.ts";
import type { EnvReader } from "../config/paths.ts";
import { decodeBase64Strict } from "../encoding/base64.ts";
import { readLocalFile } from "../fs/read_file.ts";

/** Sigstore's public-good TUF repository. */
const PUBLIC_GOOD_TUF_URL = "https://tuf-repo-cdn.sigstore.dev";

/** The TUF target that holds Sigstore's trusted root. */
export const TRUSTED_ROOT_TARGET = "trusted_root.json";

/** Where a chain of TUF metadata starts. */
export interface TufAnchor {
  /** Metadata base URL of the repository (targets live under `<url>/targets/`). */
  url: string;
  /** The anchor `root.json`, byte for byte. */
  root: Uint8Array;
  /** Where {@linkcode root} came from (`embedded:@sigstore/tuf`, or a file path). */
  source: string;
  /** The `trusted_root.json` target shipped with the anchor, when there is one. */
  trustedRoot?: Uint8Array;
}

/** What a `root.json` says about itself (not verified here). */
export interface RootFacts {
  version: number;
  expires: string;
  consistentSnapshot: boolean;
}

/** Version, expiry and consistent-snapshot flag of a TUF root document. */
export function rootFacts(bytes: Uint8Array, what = "root.json"): RootFacts {
  let doc: {
    signed?: {
      _type?: unknown;
      version?: unknown;
      expires?: unknown;
      consistent_snapshot?: unknown;
    };
  };
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new TrustMaterialError(`${what} is not JSON`);
  }
  const s = doc?.signed;
  if (
    !s || s._type !== "root" || !Number.isSafeInteger(s.version) ||
    typeof s.expires !== "string"
  ) {
    throw new TrustMaterialError(`${what} is not TUF root metadata`);
  }
  return {
    version: s.version as number,
    expires: s.expires,
    consistentSnapshot: s.consistent_snapshot === true,
  };
}

/** The public-good anchor embedded from `@sigstore/tuf`'s seeds. */
function publicGoodAnchor(): TufAnchor {
  const seed = (seeds as Record<string, { "root.json": string; targets: Record<string, string> }>)[
    PUBLIC_GOOD_TUF_URL
  ];
  const root = decodeBase64Strict(seed["root.json"]);
  const trustedRoot = decodeBase64Strict(seed.targets[TRUSTED_ROOT_TARGET]);
  if (!root || !trustedRoot) throw new TrustMaterialError("the embedded TUF seeds are corrupt");
  return { url: PUBLIC_GOOD_TUF_URL, root, source: "embedded:@sigstore/tuf", trustedRoot };
}

/**
 * The anchor this run uses: `DANGERZONE_IMAGE_TUF_URL` with the root file
 * `DANGERZONE_IMAGE_TUF_ROOT` (both, or neither), else the public-good one.
 * @throws UsageError (only one of them set, a bad URL), IoError, TrustMaterialError
 */
export async function anchorFromEnv(env: EnvReader): Promise<TufAnchor> {
  const url = env("DANGERZONE_IMAGE_TUF_URL");
  const rootPath = env("DANGERZONE_IMAGE_TUF_ROOT");
  if (url === undefined && rootPath === undefined) return publicGoodAnchor();
  if (url === undefined || rootPath === undefined) {
    throw new UsageError(
      "DANGERZONE_IMAGE_TUF_URL and DANGERZONE_IMAGE_TUF_ROOT go together",
      { hint: "set both (a TUF repository and the root.json to trust it from), or neither" },
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`DANGERZONE_IMAGE_TUF_URL '${url}' is not a URL`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new UsageError(`DANGERZONE_IMAGE_TUF_URL must be http(s), not ${parsed.protocol}`);
  }
  const root = await readLocalFile(rootPath, { what: "TUF root", limit: 1024 * 1024 });
  rootFacts(root, rootPath);
  return { url: url.replace(/\/+$/, ""), root, source: rootPath };
}
