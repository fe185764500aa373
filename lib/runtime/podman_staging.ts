/**
 * Where podman's staged OCI layouts go, and the name podman gives them.
 * `podman pull oci:DIR` (and `podman load --input DIR`) names the image it
 * loads after the directory (`localhost/<path without the leading
 * slash>:latest`) and fails when that path is no valid image name (upper
 * case, spaces, `:`…). So the layout is staged where the path is a valid
 * name (the data dir's `tmp/` when it is, the system temp dir otherwise),
 * and that name is removed again after the image is tagged.
 *
 * @module
 */

import { ensureDir } from "../fs/atomic.ts";
import { resolve } from "node:path";
import { RuntimeError } from "../errors/errors.ts";
import { type EnvReader, readEnv } from "../config/paths.ts";

/** A path component of the docker reference grammar. */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** Longest repository name the reference grammar allows. */
const MAX_NAME = 255;

/** The name podman gives an image read from the layout directory `dir` (absolute). */
export function podmanLayoutName(dir: string): string {
  return `localhost/${dir.replace(/^\/+/, "")}:latest`;
}

/** Would podman accept `dir`'s path as an image name? */
function isNameablePath(dir: string): boolean {
  const repo = podmanLayoutName(dir).slice(0, -":latest".length);
  if (repo.length > MAX_NAME) return false;
  return repo.split("/").slice(1).every((c) => COMPONENT.test(c));
}

function randomHex(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function makePrivateDir(parent: string): Promise<string> {
  await ensureDir(parent, 0o700); // private, whatever the umask
  const dir = resolve(parent, `dz-podman-${randomHex()}`);
  await Deno.mkdir(dir, { mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  return dir;
}

/**
 * A new private (0700) staging directory whose absolute path podman can
 * use as an image name: under `preferred` (resolved against the working
 * directory) when that works, else under the system temp dir (`TMPDIR`,
 * read by `env`).
 * @throws RuntimeError when neither gives a usable path
 */
export async function makePodmanStagingDir(
  preferred: string | undefined,
  env: EnvReader = readEnv,
): Promise<string> {
  const candidates: string[] = [];
  if (preferred !== undefined) candidates.push(resolve(preferred));
  const tmp = env("TMPDIR") ?? "/tmp";
  candidates.push(resolve(tmp), "/var/tmp", "/tmp");
  for (const parent of candidates) {
    if (!isNameablePath(`${parent}/dz-podman-0000000000000000`)) continue;
    return await makePrivateDir(parent);
  }
  throw new RuntimeError(
    `no staging directory for podman: ${candidates.join(", ")} are not usable as image names`,
    { hint: "set TMPDIR to a lower-case path without spaces" },
  );
}
