/**
 * Bearer tokens from a registry's token service (the realm of its
 * `WWW-Authenticate: Bearer` challenge): anonymous, with Basic credentials,
 * or an OAuth2 refresh token; the reply is bounded in size and time. A
 * realm on plain HTTP is refused for an HTTPS registry.
 *
 * @module
 */

import { AuthError } from "../errors/errors.ts";
import type { Challenge } from "./challenge.ts";
import type { Credentials } from "./credentials.ts";
import { isLoopbackHost } from "./reference.ts";
import { readDocument } from "./body_guard.ts";
import { MAX_TOKEN_REPLY_BYTES } from "./limits.ts";
import type { Timings } from "./timing.ts";

/** `Authorization: Basic …` for credentials. */
export function basicAuthorization(c: Credentials): string {
  const bytes = new TextEncoder().encode(`${c.username}:${c.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** What {@linkcode fetchToken} needs from its transport. */
export interface TokenContext {
  registry: string;
  origin: string;
  timings: Timings;
  /** Send with retries (replayable requests only reach here). */
  send(url: string, init: RequestInit & { headers: Headers }): Promise<Response>;
}

/** Ask the token service of `challenge` for a token covering `scopes`. */
export async function fetchToken(
  ctx: TokenContext,
  challenge: Challenge,
  scopes: string[],
  creds: Credentials | undefined,
): Promise<string> {
  const realm = challenge.params.realm;
  if (!realm) throw new AuthError(`${ctx.registry} sent a bearer challenge without a realm`);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new AuthError(`${ctx.registry} sent an invalid token realm '${realm}'`);
  }
  if (url.protocol !== "https:" && !isLoopbackHost(url.host) && ctx.origin.startsWith("https")) {
    throw new AuthError(
      `${ctx.registry} asks for tokens over plain HTTP (${url.origin}); refused`,
    );
  }
  if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
  for (const s of scopes) url.searchParams.append("scope", s);
  const headers = new Headers({ accept: "application/json" });
  let res: Response;
  if (creds?.identityToken) {
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: creds.identityToken,
      service: challenge.params.service ?? "",
      client_id: "dangerzone-image",
      scope: scopes.join(" "),
    });
    headers.set("content-type", "application/x-www-form-urlencoded");
    url.search = "";
    res = await ctx.send(url.href, { method: "POST", headers, body: form.toString() });
  } else {
    if (creds) headers.set("authorization", basicAuthorization(creds));
    res = await ctx.send(url.href, { method: "GET", headers });
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new AuthError(
      `${ctx.registry} refused ${
        creds ? `the credentials of '${creds.username}'` : "anonymous access"
      }`,
      {
        hint: creds ? "run 'dangerzone-image login' again" : "run 'dangerzone-image login' first",
      },
    );
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new AuthError(`${ctx.registry}: token service answered HTTP ${res.status}`);
  }
  const bytes = await readDocument(res, {
    host: url.host,
    what: "token reply",
    limit: MAX_TOKEN_REPLY_BYTES,
    timings: ctx.timings,
  });
  let body: { token?: unknown; access_token?: unknown };
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new AuthError(`${ctx.registry}: token service sent invalid JSON`);
  }
  if (body === null || typeof body !== "object") {
    throw new AuthError(`${ctx.registry}: token service sent no token`);
  }
  const token = typeof body.token === "string"
    ? body.token
    : typeof body.access_token === "string"
    ? body.access_token
    : undefined;
  if (!token) throw new AuthError(`${ctx.registry}: token service sent no token`);
  return token;
}
