/**
 * `store-signatures` (Dangerzone's command): resolve an image's tag to its
 * current digest, fetch its cosign signatures and Sigstore bundles, verify
 * them (trusted key, transparency log, signed identity) and store the valid
 * ones in the data directory, installing nothing. The rollback state
 * (`rollback_state`, `last_log_index`) and the install records are not
 * touched: storing signatures is not an update.
 *
 * @module
 */

import { RegistrySource } from "../image/source.ts";
import type { RegistryClient } from "../registry/client.ts";
import type { TrustedKey } from "../trust/trusted_key.ts";
import type { LoadedTrustedRoot } from "../trust/trusted_root.ts";
import type { LoggedPosition } from "../store/rollback_state.ts";
import { writeBundles, writeSignatures } from "../store/signature_store.ts";
import { acceptedIdentities } from "../signatures/signed_identity.ts";
import { positionsOf, verifiedSignaturesFor } from "./verified_set.ts";
import { dropUnusable, findBundles, findSignatures } from "../image/discovery.ts";

/** What to store. */
export interface StoreSignaturesRequest {
  client: RegistryClient;
  repository: string;
  /** The tag to resolve (default `latest`) unless `digest` is given. */
  tag?: string;
  digest?: string;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  dataDir: string;
  /** `--signed-identity` repositories also accepted. */
  signedIdentities?: readonly string[];
}

/** What was stored. */
export interface StoreSignaturesResult {
  /** `registry/repository`. */
  image: string;
  digest: string;
  /** Valid signatures stored, of both kinds. */
  signatures: number;
  bundles: number;
  /** Signature layers and bundle referrers that could not be read. */
  dropped: number;
  tlog: LoggedPosition[];
  /** Files written. */
  files: string[];
}

/**
 * Fetch, verify, store. Nothing is written unless at least one signature verifies.
 * @throws VerificationError (`NO_SIGNATURE`, `NO_VALID_SIGNATURE`, `IDENTITY_MISMATCH`), NetworkError, RegistryError
 */
export async function storeImageSignatures(
  req: StoreSignaturesRequest,
): Promise<StoreSignaturesResult> {
  const image = `${req.client.registry}/${req.repository}`;
  const source = new RegistrySource(req.client, req.repository, {
    ...(req.digest ? { digest: req.digest } : { tag: req.tag ?? "latest" }),
  });
  const top = await source.resolve();
  // Unusable signatures and bundles are dropped (they could not verify) and counted.
  const fetched = dropUnusable(await findSignatures(source, top.digest));
  const remote = dropUnusable(await findBundles(source, top.digest));
  const verified = verifiedSignaturesFor(
    fetched.usable.map((f) => f.signature),
    top.digest,
    req.key,
    req.trustedRoot,
    remote.usable.map((f) => f.bundle),
    acceptedIdentities(image, req.signedIdentities),
  );
  const files: string[] = [];
  if (verified.signatures.length > 0) {
    files.push(
      await writeSignatures(
        req.dataDir,
        req.key.keyId,
        top.digest,
        verified.signatures.map((v) => v.signature),
      ),
    );
  }
  if (verified.bundles.length > 0) {
    files.push(
      await writeBundles(
        req.dataDir,
        req.key.keyId,
        top.digest,
        verified.bundles.map((b) => b.bundle),
      ),
    );
  }
  return {
    image,
    digest: top.digest,
    signatures: verified.signatures.length + verified.bundles.length,
    bundles: verified.bundles.length,
    dropped: fetched.dropped + remote.dropped,
    tlog: positionsOf(verified),
    files,
  };
}
