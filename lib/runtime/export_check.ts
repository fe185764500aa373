/**
 * Check a docker-archive stream (what `docker save` and `podman save`
 * write: `manifest.json`, the config `<hex>.json`, one uncompressed tar per
 * layer) against a verified image: the config must hash to the expected
 * config digest, and the layers `manifest.json` lists must hash, in order,
 * to that config's `rootfs.diff_ids`. Each member is hashed as it streams
 * by; only small JSON members are kept in memory.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createTarDecoder } from "../npm/modern_tar.ts";
import { DigestMismatchError, RuntimeError, VerificationError } from "../errors/errors.ts";
import { sha256Digest } from "../digest/digest.ts";
import { readAllLimited } from "../fs/read_limited.ts";
import type { ContentCheck } from "./runtime.ts";

/** Largest JSON member kept (manifest.json, the config). */
const MAX_JSON = 4 * 1024 * 1024;

function mismatch(message: string): never {
  throw new VerificationError("IMAGE_CONTENT_MISMATCH", message, {
    hint: "the runtime's copy of the image was modified; run 'upgrade --force' to reinstall it",
  });
}

/** A member seen in the archive: its digest, or the member a link points at. */
type Member = { digest: string; size: number; bytes?: Uint8Array } | { link: string };

async function hashBody(
  body: ReadableStream<Uint8Array>,
  keep: boolean,
): Promise<{ digest: string; size: number; bytes?: Uint8Array }> {
  if (keep) {
    const bytes = await readAllLimited(
      body,
      MAX_JSON,
      () => new RuntimeError("an exported JSON member is too large"),
    ).catch(async (e) => {
      await body.cancel().catch(() => {});
      throw e;
    });
    return { digest: sha256Digest(bytes), size: bytes.byteLength, bytes };
  }
  const hash = createHash("sha256");
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    hash.update(value);
    size += value.byteLength;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

function normalize(name: string): string {
  return name.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
}

/**
 * Read `archive` to its end and check it holds exactly the image whose
 * config digest is `configDigest`.
 * @throws VerificationError `IMAGE_CONTENT_MISMATCH`; RuntimeError when the stream is no docker-archive
 */
export async function checkDockerArchive(
  archive: ReadableStream<Uint8Array>,
  configDigest: string,
  onBytes?: (n: number) => void,
): Promise<ContentCheck> {
  const members = new Map<string, Member>();
  let bytes = 0;
  const reader = archive.pipeThrough(createTarDecoder()).getReader();
  for (;;) {
    let next;
    try {
      next = await reader.read();
    } catch (e) {
      if (e instanceof VerificationError) throw e;
      throw new RuntimeError(`the exported image is not a valid tar: ${(e as Error).message}`);
    }
    if (next.done) break;
    const { header, body } = next.value;
    const name = normalize(header.name);
    if (header.type === "symlink" || header.type === "link") {
      await body.cancel();
      const target = header.linkname ?? "";
      const base = name.includes("/") ? name.slice(0, name.lastIndexOf("/") + 1) : "";
      const resolved = header.type === "symlink" && !target.startsWith("/")
        ? normalize(new URL(target, `file:///${base}`).pathname.slice(1))
        : normalize(target);
      members.set(name, { link: resolved });
      continue;
    }
    if (header.type !== "file") {
      await body.cancel();
      continue;
    }
    const keep = name.endsWith(".json") && header.size <= MAX_JSON;
    const got = await hashBody(body, keep);
    bytes += got.size;
    onBytes?.(got.size);
    members.set(name, got);
  }
  const lookup = (name: string) => {
    let m = members.get(normalize(name));
    for (let hops = 0; m && "link" in m && hops < 8; hops++) m = members.get(m.link);
    return m && !("link" in m) ? m : undefined;
  };
  const manifestMember = lookup("manifest.json");
  if (!manifestMember?.bytes) {
    throw new RuntimeError("the exported image has no manifest.json (not a docker-archive)");
  }
  let entries: { Config?: unknown; Layers?: unknown }[];
  try {
    entries = JSON.parse(new TextDecoder().decode(manifestMember.bytes));
    if (!Array.isArray(entries)) throw new Error("not a list");
  } catch {
    throw new RuntimeError("the exported image's manifest.json is not a docker-archive manifest");
  }
  if (entries.length !== 1) {
    mismatch(`the runtime exported ${entries.length} images where one was asked for`);
  }
  const entry = entries[0];
  if (typeof entry.Config !== "string" || !Array.isArray(entry.Layers)) {
    throw new RuntimeError("the exported image's manifest.json lacks Config or Layers");
  }
  const config = lookup(entry.Config);
  if (!config?.bytes) mismatch(`the exported image lacks its config ${entry.Config}`);
  if (config.digest !== configDigest) {
    mismatch(
      `the runtime's image config hashes to ${config.digest}, not the verified ${configDigest}`,
    );
  }
  let diffIds: unknown;
  try {
    diffIds = JSON.parse(new TextDecoder().decode(config.bytes))?.rootfs?.diff_ids;
  } catch {
    throw new DigestMismatchError(`the verified config ${configDigest} is not JSON`);
  }
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === "string")) {
    mismatch(`the verified config ${configDigest} lists no rootfs.diff_ids`);
  }
  if (diffIds.length !== entry.Layers.length) {
    mismatch(
      `the runtime exported ${entry.Layers.length} layers; the signed config lists ${diffIds.length}`,
    );
  }
  entry.Layers.forEach((path, i) => {
    const layer = typeof path === "string" ? lookup(path) : undefined;
    if (!layer) mismatch(`the exported image lacks layer ${i + 1} (${String(path)})`);
    if (layer.digest !== diffIds[i]) {
      mismatch(
        `layer ${i + 1} in the runtime hashes to ${layer.digest}, the signed config says ${
          diffIds[i]
        }`,
      );
    }
  });
  return { layers: diffIds.length, bytes };
}
