/**
 * Image references, parsed once with typed errors (after
 * go-containerregistry's `pkg/name`): the docker grammar
 * `[host[:port]/]path[:tag][@sha256:hex]` with docker.io defaults, plus the
 * local sources `oci:DIR[:tag|@sha256:…]` and `archive:FILE.tar`.
 *
 * @module
 */

import { InvalidReferenceError } from "../errors/errors.ts";
import { parseDigest } from "../digest/digest.ts";

/** Is `tag` a tag by the distribution grammar `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`? */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** The registry docker.io names, and the host that really serves it. */
export const DOCKER_HUB = "docker.io";
/** The API endpoint of Docker Hub. */
const DOCKER_HUB_ENDPOINT = "registry-1.docker.io";

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST =
  /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::[0-9]{1,5})?$/;
const MAX_NAME = 255;

/** A reference to an image in a registry. */
export interface RegistryReference {
  readonly kind: "registry";
  /** Registry as users name it, e.g. `ghcr.io`, `127.0.0.1:5000`, `docker.io`. */
  readonly registry: string;
  /** Repository path, e.g. `freedomofpress/dangerzone/dangerzone`, `library/alpine`. */
  readonly repository: string;
  /** Tag, when given. */
  readonly tag?: string;
  /** `sha256:<hex>` digest, when given. */
  readonly digest?: string;
}

/** An image in an OCI image layout directory. */
export interface OciLayoutReference {
  readonly kind: "oci";
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** An archive written by `prepare-archive`. */
export interface ArchiveReference {
  readonly kind: "archive";
  readonly path: string;
}

/** Any image source a command reads. */
export type ImageReference = RegistryReference | OciLayoutReference | ArchiveReference;

/** The host to send API requests to (docker.io → registry-1.docker.io). */
export function registryEndpoint(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_ENDPOINT : registry;
}

/** Normalize a registry name given by a user (`index.docker.io` → `docker.io`). */
export function normalizeRegistry(host: string): string {
  const h = host.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  if (h === "index.docker.io" || h === "registry-1.docker.io") return DOCKER_HUB;
  if (!HOST.test(h)) {
    throw new InvalidReferenceError(`'${host}' is not a valid registry host[:port]`);
  }
  const port = h.match(/:([0-9]+)$/);
  if (port && Number(port[1]) > 65535) {
    throw new InvalidReferenceError(`'${host}' has an invalid port`);
  }
  return h.toLowerCase();
}

/** Is this host name a loopback address (plain HTTP allowed)? */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.startsWith("[")
    ? registry.slice(1, registry.indexOf("]"))
    : registry.replace(/:[0-9]+$/, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function looksLikeHost(component: string): boolean {
  return component.includes(".") || component.includes(":") || component === "localhost" ||
    component.startsWith("[") || component !== component.toLowerCase();
}

/**
 * Parse a docker-grammar reference. Throws {@linkcode InvalidReferenceError}
 * with a message that says what is wrong.
 */
export function parseRegistryReference(input: string): RegistryReference {
  const s = input.trim();
  if (s === "") throw new InvalidReferenceError("empty image reference");
  if (/\s/.test(s)) throw new InvalidReferenceError(`'${input}' contains whitespace`);
  if (s.includes("://")) {
    throw new InvalidReferenceError(`'${input}' is a URL; write the reference without a scheme`, {
      hint: "e.g. ghcr.io/owner/image:tag",
    });
  }
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    try {
      digest = parseDigest(rest.slice(at + 1));
    } catch (e) {
      throw new InvalidReferenceError(`'${input}' has an invalid digest: ${(e as Error).message}`);
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      throw new InvalidReferenceError(
        `'${input}' has an invalid tag '${tag}' (letters, digits, _ . -; at most 128)`,
      );
    }
  }
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  if (parts.length > 1 && looksLikeHost(parts[0])) {
    registry = normalizeRegistry(parts.shift()!);
  }
  if (parts.length === 0 || parts.some((p) => p === "")) {
    throw new InvalidReferenceError(`'${input}' has an empty repository path component`);
  }
  for (const p of parts) {
    if (!PATH_COMPONENT.test(p)) {
      throw new InvalidReferenceError(
        `'${input}': repository component '${p}' must be lowercase letters, digits and separators`,
      );
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  const repository = parts.join("/");
  if (repository.length > MAX_NAME) {
    throw new InvalidReferenceError(`'${input}': repository name longer than ${MAX_NAME}`);
  }
  return { kind: "registry", registry, repository, tag, digest };
}

/** Parse the part after `oci:`: `DIR`, `DIR:tag`, `DIR@sha256:…`. */
function parseOci(input: string, body: string): OciLayoutReference {
  let path = body;
  let digest: string | undefined;
  let tag: string | undefined;
  const at = path.lastIndexOf("@");
  if (at !== -1 && path.slice(at + 1).startsWith("sha")) {
    try {
      digest = parseDigest(path.slice(at + 1));
    } catch (e) {
      throw new InvalidReferenceError(`'${input}' has an invalid digest: ${(e as Error).message}`);
    }
    path = path.slice(0, at);
  } else {
    const colon = path.lastIndexOf(":");
    if (colon > path.lastIndexOf("/") && colon !== -1) {
      tag = path.slice(colon + 1);
      path = path.slice(0, colon);
      if (!/^[A-Za-z0-9_][A-Za-z0-9_./:-]*$/.test(tag)) {
        throw new InvalidReferenceError(`'${input}' has an invalid tag '${tag}'`);
      }
    }
  }
  if (path === "") throw new InvalidReferenceError(`'${input}' names no directory`);
  return { kind: "oci", path, tag, digest };
}

/** Parse any image source a command accepts. */
export function parseImageReference(input: string): ImageReference {
  if (input.startsWith("oci:")) return parseOci(input, input.slice(4));
  if (input.startsWith("archive:")) {
    const path = input.slice(8);
    if (path === "") throw new InvalidReferenceError(`'${input}' names no file`);
    return { kind: "archive", path };
  }
  return parseRegistryReference(input);
}

/** Canonical text of a registry reference, e.g. `ghcr.io/a/b:tag@sha256:…`. */
export function formatReference(
  ref: Pick<RegistryReference, "registry" | "repository" | "tag" | "digest">,
): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${
    ref.digest ? `@${ref.digest}` : ""
  }`;
}
