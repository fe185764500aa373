/**
 * Write the docker/podman auth file (`{"auths": {...}}`) the way `docker
 * login` / `podman login` do: one entry per registry with
 * `auth = base64(user:password)`, every other key and entry kept, written
 * atomically with mode 0600.
 *
 * @module
 */

import { dirname } from "node:path";
import { IoError } from "../errors/errors.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import { authKeysFor } from "./credentials.ts";
import { DOCKER_HUB } from "./reference.ts";

type AuthConfig = Record<string, unknown> & { auths?: Record<string, unknown> };

async function readConfig(path: string): Promise<AuthConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw new IoError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (text.trim() === "") return {};
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error();
    return parsed as AuthConfig;
  } catch {
    throw new IoError(`${path} is not a JSON object; refusing to overwrite it`, {
      hint: "fix or move that file, then retry",
    });
  }
}

/** The key `login` writes for a registry (docker's for Docker Hub). */
function authKeyFor(registry: string): string {
  return registry === DOCKER_HUB ? "https://index.docker.io/v1/" : registry;
}

/** Store credentials for `registry` in the auth file at `path`. */
export async function storeCredentials(
  path: string,
  registry: string,
  username: string,
  password: string,
): Promise<void> {
  const config = await readConfig(path);
  const auths = { ...(config.auths ?? {}) };
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  auths[authKeyFor(registry)] = { auth: btoa(bin) };
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileAtomic(path, JSON.stringify({ ...config, auths }, null, "\t") + "\n", {
    mode: 0o600,
  });
}

/** Remove every entry for `registry`; returns false when there was none. */
export async function removeCredentials(path: string, registry: string): Promise<boolean> {
  const config = await readConfig(path);
  if (!config.auths) return false;
  const auths = { ...config.auths };
  let removed = false;
  for (const key of authKeysFor(registry)) {
    if (Object.hasOwn(auths, key)) {
      delete auths[key];
      removed = true;
    }
  }
  if (!removed) return false;
  await writeFileAtomic(path, JSON.stringify({ ...config, auths }, null, "\t") + "\n", {
    mode: 0o600,
  });
  return true;
}

/** Remove every registry's entry (`logout --all`); returns the keys removed. */
export async function removeAllCredentials(path: string): Promise<string[]> {
  const config = await readConfig(path);
  const removed = Object.keys(config.auths ?? {});
  if (removed.length === 0) return [];
  await writeFileAtomic(path, JSON.stringify({ ...config, auths: {} }, null, "\t") + "\n", {
    mode: 0o600,
  });
  return removed;
}
