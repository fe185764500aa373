/**
 * Registry credentials from the docker/podman auth files
 * (`{"auths": {"host": {"auth": base64("user:pass")}}}`), read-only here.
 * `login`/`logout` write them through `lib/registry/auth_file.ts`.
 *
 * @module
 */

import { authFilePath, type EnvReader, extraAuthFilePaths } from "../config/paths.ts";
import { DOCKER_HUB } from "./reference.ts";

/** A user name and password (or identity token) for one registry. */
export interface Credentials {
  username: string;
  password: string;
  /** OAuth2 refresh token (docker `identitytoken`), used instead of the password. */
  identityToken?: string;
}

/** The keys an auth file may use for a registry. */
export function authKeysFor(registry: string): string[] {
  if (registry === DOCKER_HUB) {
    return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"];
  }
  return [registry, `https://${registry}`, `http://${registry}`];
}

/** Decode one `auths` entry; undefined when it holds nothing usable. */
function decodeAuthEntry(entry: unknown): Credentials | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const e = entry as Record<string, unknown>;
  let username = typeof e.username === "string" ? e.username : "";
  let password = typeof e.password === "string" ? e.password : "";
  if (typeof e.auth === "string" && e.auth !== "") {
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(e.auth), (c) => c.charCodeAt(0)));
    } catch {
      return undefined;
    }
    const i = decoded.indexOf(":");
    if (i === -1) return undefined;
    username = decoded.slice(0, i);
    password = decoded.slice(i + 1);
  }
  const identityToken = typeof e.identitytoken === "string" && e.identitytoken !== ""
    ? e.identitytoken
    : undefined;
  if (!username && !identityToken) return undefined;
  return { username, password, identityToken };
}

/** Look up credentials for a registry in one parsed auth file. */
function credentialsFrom(config: unknown, registry: string): Credentials | undefined {
  if (typeof config !== "object" || config === null) return undefined;
  const auths = (config as { auths?: unknown }).auths;
  if (typeof auths !== "object" || auths === null) return undefined;
  for (const key of authKeysFor(registry)) {
    if (Object.hasOwn(auths, key)) {
      const c = decodeAuthEntry((auths as Record<string, unknown>)[key]);
      if (c) return c;
    }
  }
  return undefined;
}

/** A source of credentials per registry. */
export type CredentialStore = (registry: string) => Promise<Credentials | undefined>;

/**
 * Credentials from the auth files, first match wins: the file `login`
 * writes, then podman's. Unreadable or malformed files are skipped.
 */
export const authFileCredentials: CredentialStore = (registry) =>
  credentialsFromFiles([authFilePath(), ...extraAuthFilePaths()], registry);

/** {@linkcode authFileCredentials} with the auth files found from `readEnv`. */
export function authFileCredentialsIn(readEnv: EnvReader): CredentialStore {
  return (registry) =>
    credentialsFromFiles([authFilePath(readEnv), ...extraAuthFilePaths(readEnv)], registry);
}

/** Credentials from `--authfile FILE` only (as podman and skopeo read it). */
export function authFileCredentialsFrom(path: string): CredentialStore {
  return (registry) => credentialsFromFiles([path], registry);
}

async function credentialsFromFiles(
  paths: string[],
  registry: string,
): Promise<Credentials | undefined> {
  for (const path of paths) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch {
      continue;
    }
    try {
      const c = credentialsFrom(JSON.parse(text), registry);
      if (c) return c;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** No credentials at all. */
export const noCredentials: CredentialStore = () => Promise.resolve(undefined);
