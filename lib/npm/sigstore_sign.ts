/**
 * `@sigstore/sign@5.1.0`, pinned here and only here (deno.json maps the bare
 * name to this file), so the program also runs from a URL without an import map.
 *
 * Only its bundle builders and its Rekor entry proposal: the package's entry
 * point also loads its HTTP stack (`make-fetch-happen`, whose proxy agent
 * holds an `import("kerberos")` the one-file bundle cannot carry, and which
 * reads the whole environment when it loads), so `RekorWitness` is not used.
 *
 * @module
 */

export {
  type Artifact,
  type BundleBuilder,
  DSSEBundleBuilder,
  MessageSignatureBundleBuilder,
} from "npm:@sigstore/sign@5.1.0/dist/bundler/index.js";
export { toProposedEntry } from "npm:@sigstore/sign@5.1.0/dist/witness/tlog/entry.js";
export type { Signature, Signer } from "npm:@sigstore/sign@5.1.0/dist/signer/signer.js";
export type {
  SignatureBundle,
  VerificationMaterial,
  Witness,
} from "npm:@sigstore/sign@5.1.0/dist/witness/witness.js";
