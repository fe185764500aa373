/**
 * What an attacker who controls the registry (not the signing key) can do
 * with public material, for the attack tests: take a published signature,
 * compute its ECDSA twin `(r, n−s)` (also valid, and a NEW Rekor entry), log
 * it, and attach it; rewrite a bundle's log position.
 *
 * Nothing here uses a private key: the "signer" handed to `signImage` only
 * returns a signature computed from public bytes.
 *
 * @module
 */

import type { Signer } from "../../lib/keys/signer.ts";
import type { RegistryClient } from "../../lib/registry/client.ts";
import { cosignSignatureTag } from "../../lib/registry/cosign_tags.ts";
import { signImage } from "../../lib/publish/sign_image.ts";
import type { LoadedTrustedRoot } from "../../lib/trust/trusted_root.ts";
import { malleateEcdsaP256 } from "../reliability/encoding.ts";

/** The other valid ECDSA signature `(r, n−s)` of a DER P-256 signature. */
export const ecdsaTwin = malleateEcdsaP256;

/** A "signer" that returns a fixed (public) signature: replay, no key involved. */
export function replaySigner(publicKeyPem: string, signature: Uint8Array): Signer {
  return {
    publicKeyPem: () => publicKeyPem,
    sign: () => Promise.resolve(signature),
  };
}

/** The base64 signatures of an image's `.sig` manifest, as published. */
export async function publishedSignatures(
  client: RegistryClient,
  repository: string,
  digest: string,
): Promise<Uint8Array[]> {
  const m = await client.getManifest(repository, cosignSignatureTag(digest));
  const doc = JSON.parse(new TextDecoder().decode(m.bytes)) as {
    layers: { annotations?: Record<string, string> }[];
  };
  return doc.layers.map((l) =>
    Uint8Array.from(
      atob(l.annotations!["dev.cosignproject.cosign/signature"]),
      (c) => c.charCodeAt(0),
    )
  );
}

/**
 * Log the twin of `digest`'s first published signature as a NEW hashedrekord
 * entry and append it to the `.sig` manifest; returns the new log index.
 */
export async function relogTwin(opts: {
  client: RegistryClient;
  repository: string;
  digest: string;
  publicKeyPem: string;
  rekorUrl: string;
  trustedRoot: LoadedTrustedRoot;
}): Promise<number> {
  const [original] = await publishedSignatures(opts.client, opts.repository, opts.digest);
  const r = await signImage({
    client: opts.client,
    repository: opts.repository,
    digest: opts.digest,
    signer: replaySigner(opts.publicKeyPem, ecdsaTwin(original)),
    rekorUrl: opts.rekorUrl,
    trustedRoot: opts.trustedRoot,
  });
  return r.verified.tlog!.logIndex;
}

/**
 * The attack tests' lab: a signing lab, a data dir and an `oci:` store, an
 * `upgrade` runner with the lab's key and root (plus `extraArgs`), the
 * vendor's `signBundle` (a cosign v3 bundle by the trusted key) and the
 * attacker's `twin` (re-log a published signature's ECDSA twin).
 */
export async function startAttackLab(extraArgs: string[] = []) {
  const { join } = await import("node:path");
  const { startSigningLab } = await import("./signed_images.ts");
  const { command: upgrade } = await import("../../commands/upgrade.ts");
  const lab = await startSigningLab();
  const data = join(lab.dir, "data");
  const store = join(lab.dir, "store");
  const repo = "dz/app";
  const common = [
    ...[...lab.trustArgs, "--data-dir", data],
    ...["--runtime", `oci:${store}`, "--progress", "none", ...extraArgs],
  ];
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await upgrade.main(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
  const up = (...extra: string[]) => run([`${lab.reg.host}/${repo}`, ...common, ...extra]);
  const twin = async (digest: string) =>
    await relogTwin({
      client: lab.client,
      repository: repo,
      digest,
      publicKeyPem: lab.signer.publicKeyPem(),
      rekorUrl: lab.rekorUrl,
      trustedRoot: lab.trustedRoot,
    });
  const { signImageBundle } = await import("../../lib/publish/bundle_sign.ts");
  const signBundle = (digest: string) =>
    signImageBundle({
      client: lab.client,
      repository: repo,
      digest,
      signer: lab.signer,
      rekorUrl: lab.rekorUrl,
      trustedRoot: lab.trustedRoot,
    });
  return { lab, data, store, repo, run, up, twin, signBundle };
}
