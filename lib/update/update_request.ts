/**
 * The input and output of the shared update pipeline
 * ({@linkcode applyVerifiedUpdate} in `apply.ts`).
 *
 * @module
 */

import type { Progress } from "../progress/progress.ts";
import type { ImageSource } from "../image/source.ts";
import type { Manifest } from "../registry/client.ts";
import type { CosignSignature } from "../signatures/model.ts";
import type { SignerInfo } from "../signatures/verify.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { ContainerRuntime } from "../runtime/runtime.ts";
import type { UpdateRecords } from "./update_records.ts";
import type { SignatureReports } from "./verified_set.ts";

/** What to install and how to trust it. */
export interface UpdateRequest {
  /** Where manifests and blobs come from (a registry, or a verified archive layout). */
  source: ImageSource;
  /** Full name to install under, e.g. `ghcr.io/a/b:latest`. */
  imageName: string;
  /** The digest the signatures cover (an index or a manifest). */
  signedDigest: string;
  /** `os/arch[/variant]` to pick from an index (default: this machine's). */
  platform?: string;
  /** UNVERIFIED cosign (`.sig`) signatures, as fetched. */
  signatures: CosignSignature[];
  /** UNVERIFIED Sigstore bundle documents (cosign v3 signatures), as fetched. */
  bundles?: unknown[];
  /**
   * `signatures` and `bundles` as the caller already verified them with this
   * request's key and trusted root (load-archive, which refuses an archive
   * with any signature that fails before it gets here): not verified again.
   * The signed identity and the rest of the pipeline are checked as always.
   */
  verification?: SignatureReports;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  dataDir: string;
  runtime: ContainerRuntime;
  /** Allow a rollback (and nothing else). */
  force?: boolean;
  /**
   * Repositories, besides the one installed, whose signatures are accepted
   * (`--signed-identity`: mirrors, renamed images).
   */
  signedIdentities?: readonly string[];
  progress?: Progress;
  /** The manifest of `signedDigest` if already fetched (its bytes are re-hashed). */
  signedManifest?: Manifest;
  /**
   * Where the update's records are written, in commit order (default: the
   * data directory's files, {@linkcode dataDirRecords}).
   */
  records?: UpdateRecords;
  /**
   * `upgrade --check`: verify and apply the rollback rule, then stop before
   * anything is installed or written (status `available` or `up-to-date`).
   */
  checkOnly?: boolean;
  /** `--keep-old`: leave the previously installed image in the runtime. */
  keepOld?: boolean;
  /** Where a warning line goes (default: stderr). */
  warn?: (line: string) => void;
}

/** What happened. */
export interface UpdateResult {
  /** `available`: only with {@linkcode UpdateRequest.checkOnly}, nothing was installed. */
  status: "upgraded" | "up-to-date" | "available";
  /** Signed digest installed under the name before (if any). */
  previousDigest?: string;
  /** The signed digest now installed. */
  digest: string;
  /** The platform manifest installed. */
  platformDigest: string;
  /** The runtime's image ID (config digest). */
  imageId: string;
  /** Log entries of the verified signatures. */
  tlog: { logID: string; logIndex: number; integratedTime: number }[];
  /** Who signed (the trusted key). */
  signer?: SignerInfo;
  /** `os/arch[/variant]` when picked from an index. */
  platform?: string;
  /** How many signatures (of both kinds) verified (and were stored). */
  verifiedSignatures: number;
  /** How many of them are Sigstore bundles. */
  verifiedBundles: number;
  /** The runtime's name. */
  runtime: string;
  /** Image IDs of older images removed from the runtime after the install. */
  removedImages?: string[];
}
