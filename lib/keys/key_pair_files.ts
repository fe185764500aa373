/**
 * Writing `NAME.key` / `NAME.pub` safely: never over an existing file,
 * private key mode 0600 from its creation, and atomically (each file is
 * written and synced under a temporary name, then hard-linked into place,
 * which fails rather than replace a file that appeared meanwhile), so an
 * interrupted run never leaves a half-written key behind.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { IoError } from "../errors/errors.ts";
import { pathExists as exists } from "../fs/exists.ts";
import type { CosignKeyPair } from "./private_key.ts";

/** Paths of a key pair. */
export interface KeyPairPaths {
  privateKey: string;
  publicKey: string;
}

/** `PREFIX.key` and `PREFIX.pub`. */
export function keyPairPaths(prefix: string): KeyPairPaths {
  return { privateKey: `${prefix}.key`, publicKey: `${prefix}.pub` };
}

const HINT = "choose another --output-key-prefix, or move the existing files away first";

/**
 * Refuse early (before asking for a password) when either file exists.
 *
 * @throws {IoError} when a file is already there or its directory is missing
 */
export async function assertKeyPairAbsent(paths: KeyPairPaths): Promise<void> {
  for (const p of [paths.privateKey, paths.publicKey]) {
    if (await exists(p)) {
      throw new IoError(`${p} already exists; refusing to overwrite it`, { hint: HINT });
    }
  }
  const dir = dirname(paths.privateKey);
  let isDir = false;
  try {
    isDir = (await Deno.stat(dir)).isDirectory;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (!isDir) throw new IoError(`directory ${dir} does not exist`, { hint: "create it first" });
}

async function writeTemp(target: string, text: string, mode: number): Promise<string> {
  const suffix = Array.from(
    crypto.getRandomValues(new Uint8Array(6)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const temp = join(dirname(target), `.${basename(target)}.tmp-${suffix}`);
  const file = await Deno.open(temp, { createNew: true, write: true, mode });
  try {
    if (Deno.build.os !== "windows") await Deno.chmod(temp, mode); // whatever the umask
    const data = new TextEncoder().encode(text);
    let off = 0;
    while (off < data.length) off += await file.write(data.subarray(off));
    await file.sync();
  } catch (e) {
    file.close();
    await Deno.remove(temp).catch(() => {});
    throw e;
  }
  file.close();
  return temp;
}

/** Move `temp` to `target` without ever replacing an existing `target`. */
async function placeNoClobber(temp: string, target: string): Promise<void> {
  try {
    await Deno.link(temp, target);
    return;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new IoError(`${target} already exists; refusing to overwrite it`, { hint: HINT });
    }
    if (e instanceof Deno.errors.NotCapable) throw e;
    // File systems without hard links: check, then rename (small race window).
  }
  if (await exists(target)) {
    throw new IoError(`${target} already exists; refusing to overwrite it`, { hint: HINT });
  }
  await Deno.rename(temp, target);
}

/**
 * Write a key pair to `paths`: the private key with mode 0600, the public
 * key with mode 0644. Either both files appear complete or neither does.
 *
 * @throws {IoError} when either file already exists
 */
export async function writeKeyPairFiles(
  paths: KeyPairPaths,
  pair: CosignKeyPair,
): Promise<void> {
  const temps: string[] = [];
  let placedKey = false;
  try {
    const keyTemp = await writeTemp(paths.privateKey, pair.privateKeyPem, 0o600);
    temps.push(keyTemp);
    const pubTemp = await writeTemp(paths.publicKey, pair.publicKeyPem, 0o644);
    temps.push(pubTemp);
    await placeNoClobber(keyTemp, paths.privateKey);
    placedKey = true;
    await placeNoClobber(pubTemp, paths.publicKey);
  } catch (e) {
    if (placedKey) await Deno.remove(paths.privateKey).catch(() => {});
    throw e;
  } finally {
    for (const t of temps) await Deno.remove(t).catch(() => {});
  }
}
