/**
 * A signing lab for update tests: a real registry, the loopback Rekor, a
 * trusted key pair and a second (untrusted) one, and helpers to push small
 * images (single-platform or an index of two) and sign their digests the
 * way `sign` does.
 *
 * ```ts
 * await using lab = await startSigningLab();
 * const d = await lab.push("dz/app", { v: "1" }, "latest");
 * await lab.sign("dz/app", d);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { RegistryClient } from "../../lib/registry/client.ts";
import { buildImage, type BuiltImage } from "./image_build.ts";
import { pushImage } from "./image_push.ts";
import { signImage } from "../../lib/publish/sign_image.ts";
import { generateCosignKeyPair } from "../../lib/keys/private_key.ts";
import { type Signer, signerFromKeyFile } from "../../lib/keys/signer.ts";
import { fixedPasswordProvider } from "../../lib/keys/password.ts";
import { loadTrustedKey, type TrustedKey } from "../../lib/trust/trusted_key.ts";
import { type LoadedTrustedRoot, loadTrustedRoot } from "../../lib/trust/trusted_root.ts";
import { OCI_INDEX } from "../../lib/oci/media_types.ts";
import { sha256Digest } from "../../lib/digest/digest.ts";
import { startRegistry, type TestRegistry } from "./registry.ts";
import { startLocalSigstore } from "../../scripts/local_sigstore.ts";

const PASSWORD = "lab-password";

/** A running lab. */
export interface SigningLab extends AsyncDisposable {
  reg: TestRegistry;
  client: RegistryClient;
  /** Temp dir (keys, trusted root, data dirs). */
  dir: string;
  rootPath: string;
  /** Trusted public key path (`--key`). */
  keyPath: string;
  /** `--key <keyPath> --trusted-root <rootPath>`: what every command run against the lab passes. */
  trustArgs: readonly string[];
  otherKeyPath: string;
  key: TrustedKey;
  trustedRoot: LoadedTrustedRoot;
  signer: Signer;
  otherSigner: Signer;
  /** The local Rekor's URL. */
  rekorUrl: string;
  /** Push a one-layer image (config `created` as given, default 2024-01-01); returns its manifest digest. */
  push(
    repo: string,
    files: Record<string, string>,
    tag?: string,
    options?: { created?: string },
  ): Promise<string>;
  /** Push an index of linux/amd64 + linux/arm64 images; returns the index digest. */
  pushIndex(
    repo: string,
    files: Record<string, string>,
    tag?: string,
  ): Promise<{ digest: string; amd64: BuiltImage; arm64: BuiltImage; amd64Digest: string }>;
  /**
   * Sign `digest` (logged in the local Rekor); returns the log index. The
   * signer is deterministic: pass `annotations` to make another signature
   * of the same digest.
   */
  sign(
    repo: string,
    digest: string,
    signer?: Signer,
    annotations?: Record<string, string>,
  ): Promise<number>;
  /** Point `tag` at `digest`. */
  retag(repo: string, digest: string, tag: string): Promise<void>;
  /** Path of a blob's data file in the registry's storage. */
  blobFile(digest: string): string;
  close(): Promise<void>;
}

async function writeKeyPair(dir: string, name: string): Promise<{ priv: string; pub: string }> {
  const pair = await generateCosignKeyPair(PASSWORD);
  const priv = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  await Deno.writeTextFile(priv, pair.privateKeyPem);
  await Deno.writeTextFile(pub, pair.publicKeyPem);
  return { priv, pub };
}

/** Start the lab. */
export async function startSigningLab(): Promise<SigningLab> {
  const reg = await startRegistry();
  const sigstore = await startLocalSigstore();
  const dir = await Deno.makeTempDir({ prefix: "dz-lab-" });
  const rootPath = join(dir, "trusted_root.json");
  await sigstore.writeTrustedRoot(rootPath);
  const trusted = await writeKeyPair(dir, "trusted");
  const other = await writeKeyPair(dir, "other");
  const client = new RegistryClient(reg.host);
  const trustedRoot = await loadTrustedRoot(rootPath);
  const signer = await signerFromKeyFile(trusted.priv, fixedPasswordProvider(PASSWORD));
  const otherSigner = await signerFromKeyFile(other.priv, fixedPasswordProvider(PASSWORD));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    client.close();
    await sigstore.close();
    await reg.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const lab: SigningLab = {
    reg,
    client,
    dir,
    rootPath,
    keyPath: trusted.pub,
    trustArgs: ["--key", trusted.pub, "--trusted-root", rootPath],
    otherKeyPath: other.pub,
    key: await loadTrustedKey(trusted.pub),
    trustedRoot,
    signer,
    otherSigner,
    rekorUrl: sigstore.rekorUrl,
    async push(repo, files, tag, options) {
      return await pushImage(client, repo, await buildImage({ files, ...options }), tag);
    },
    async pushIndex(repo, files, tag) {
      const amd64 = await buildImage({ files, architecture: "amd64" });
      const arm64 = await buildImage({
        files: { ...files, arch: "arm64" },
        architecture: "arm64",
      });
      const amd64Digest = await pushImage(client, repo, amd64);
      await pushImage(client, repo, arm64);
      const index = new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { ...amd64.manifestDescriptor, platform: { os: "linux", architecture: "amd64" } },
          {
            ...arm64.manifestDescriptor,
            platform: { os: "linux", architecture: "arm64", variant: "v8" },
          },
        ],
      }));
      const digest = await client.putManifest(repo, tag ?? sha256Digest(index), index, OCI_INDEX);
      return { digest, amd64, arm64, amd64Digest };
    },
    async sign(repo, digest, s = signer, annotations) {
      const r = await signImage({
        client,
        repository: repo,
        digest,
        signer: s,
        rekorUrl: sigstore.rekorUrl,
        trustedRoot,
        ...(annotations ? { annotations } : {}),
      });
      return r.verified.tlog!.logIndex;
    },
    async retag(repo, digest, tag) {
      const m = await client.getManifest(repo, digest);
      await client.putManifest(repo, tag, m.bytes, m.mediaType);
    },
    blobFile(digest) {
      const hex = digest.slice("sha256:".length);
      return join(
        reg.storageDir,
        "docker",
        "registry",
        "v2",
        "blobs",
        "sha256",
        hex.slice(0, 2),
        hex,
        "data",
      );
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return lab;
}
