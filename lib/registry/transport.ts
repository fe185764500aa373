/**
 * The HTTP transport to one registry, stacked as layers after
 * go-containerregistry's `pkg/v1/remote/transport`:
 *
 * 1. scheme: HTTPS, or plain HTTP for loopback and `--insecure-registry` hosts;
 * 2. auth: `WWW-Authenticate` challenges, bearer tokens (anonymous or with
 *    credentials from the auth files) cached per scope, Basic auth;
 * 3. retry: 429 / 5xx / connection resets with exponential backoff and
 *    `Retry-After`, for requests whose body can be replayed;
 * 4. send: `fetch` with a header timeout, an optional proxy, and manual
 *    redirects that never carry credentials to another host.
 *
 * Credentials (Basic or bearer) go only to the registry's own origin
 * (scheme, host and port) and its token realm: never to an upload
 * `Location`, a redirect or any URL on another origin. Every request has a
 * deadline and the command a total budget (`lib/registry/timing.ts`); every
 * body read here is bounded while it streams (`lib/registry/body_guard.ts`).
 *
 * @module
 */

import { AuthError, NetworkError, RegistryError, UsageError } from "../errors/errors.ts";
import { type Challenge, parseChallenges } from "./challenge.ts";
import { type Credentials, type CredentialStore, noCredentials } from "./credentials.ts";
import { isLoopbackHost, registryEndpoint } from "./reference.ts";
import { readDocument, readPrefix } from "./body_guard.ts";
import { MAX_ERROR_REPLY_BYTES, MAX_TOKEN_REPLY_BYTES } from "./limits.ts";
import { redactUrlValue, redactUserinfo } from "./redact.ts";
import {
  deadlineError,
  formatSeconds,
  isDeadline,
  type NetworkTimings,
  resolveTimings,
  type Timings,
} from "./timing.ts";

/** How to reach registries. */
export interface TransportOptions extends NetworkTimings {
  /** Hosts (`host[:port]`) allowed over plain HTTP besides loopback. */
  insecureRegistries?: string[];
  /** `http://`, `https://` or `socks5h://` proxy for every request. */
  proxy?: string;
  /** Where credentials come from (default: none). */
  credentials?: CredentialStore;
  /** Retries after the first attempt (default 4). */
  retries?: number;
  /** First backoff in milliseconds (default 250), doubled each retry. */
  retryBaseMs?: number;
  /** Longest `Retry-After` honoured, in milliseconds (default 30 000). */
  maxRetryAfterMs?: number;
  /** Debug log sink; never receives secrets. */
  debug?: (line: string) => void;
  /** Counts every HTTP request sent (tests and benchmarks read it). */
  onRequest?: (method: string, url: string) => void;
}

/** A request to the registry API. */
export interface RegistryRequest {
  method?: string;
  /** Path below the registry root, e.g. `/v2/a/b/manifests/latest`, or an absolute URL. */
  path: string;
  headers?: Record<string, string>;
  /** Body; a Uint8Array or string can be replayed on retry, a stream cannot. */
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
  /** Token scopes this request needs, e.g. `repository:a/b:pull`. */
  scopes?: string[];
  /** Statuses that are not errors (default: 2xx). */
  accept?: number[];
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const MAX_REDIRECTS = 5;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isNetworkError(e: unknown): boolean {
  if (isDeadline(e)) return false; // retrying would only cost the time again
  return e instanceof TypeError || e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.ConnectionAborted ||
    (e instanceof DOMException && e.name === "TimeoutError");
}

function basic(c: Credentials): string {
  const bytes = new TextEncoder().encode(`${c.username}:${c.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** Retry-After in ms (seconds or HTTP date), or undefined. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const t = Date.parse(header);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** The transport to one registry. */
export class RegistryTransport {
  /** Registry as users name it (`docker.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  /** `http:` or `https:` origin of the API. */
  readonly origin: string;
  readonly #opts: TransportOptions;
  /** Deadlines and the command's budget, shared with the client's body reads. */
  readonly timings: Timings;
  readonly #client?: Deno.HttpClient;
  readonly #tokens = new Map<string, string>();
  #challenge?: Challenge;
  #credentials?: Credentials | null;

  constructor(registry: string, options: TransportOptions = {}) {
    this.registry = registry;
    this.#opts = options;
    this.timings = resolveTimings(options);
    const endpoint = registryEndpoint(registry);
    const insecure = isLoopbackHost(endpoint) ||
      (options.insecureRegistries ?? []).some((h) => h === registry || h === endpoint);
    this.origin = `${insecure ? "http" : "https"}://${endpoint}`;
    if (options.proxy) {
      const shown = redactUrlValue(options.proxy);
      let url: URL;
      try {
        url = new URL(options.proxy);
      } catch {
        throw new UsageError(`--proxy '${shown}' is not a URL`, {
          hint: "e.g. socks5h://127.0.0.1:9050 or http://user:password@proxy:3128",
        });
      }
      if (!["http:", "https:", "socks5:", "socks5h:"].includes(url.protocol)) {
        throw new UsageError(`--proxy must be http://, https:// or socks5h://, not '${shown}'`);
      }
      try {
        this.#client = Deno.createHttpClient({ proxy: { url: options.proxy } });
      } catch (e) {
        throw new UsageError(
          `--proxy '${shown}' cannot be used: ${redactUserinfo((e as Error).message)}`,
        );
      }
    }
  }

  /** Release the HTTP client (proxy connections). */
  close(): void {
    this.#client?.close();
  }

  #log(line: string): void {
    this.#opts.debug?.(line);
  }

  async #creds(): Promise<Credentials | undefined> {
    if (this.#credentials === undefined) {
      this.#credentials = (await (this.#opts.credentials ?? noCredentials)(this.registry)) ?? null;
    }
    return this.#credentials ?? undefined;
  }

  /** `host[:port]` of a URL, for messages. */
  #hostOf(url: URL): string {
    return url.origin === this.origin ? this.registry : url.host;
  }

  /**
   * One fetch with a header deadline and safe manual redirects: a redirect
   * to another origin loses the Authorization header, and HTTPS never
   * redirects to plain HTTP.
   */
  async #send(url: string, init: RequestInit & { headers: Headers }): Promise<Response> {
    let current = new URL(url);
    const headers = new Headers(init.headers);
    const method = init.method ?? "GET";
    const budget = this.timings.budget;
    // A streamed upload is still being sent while headers are awaited: only the budget bounds it.
    const streamed = init.body instanceof ReadableStream;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const host = this.#hostOf(current);
      budget.check(host, `${method} ${current.pathname}`);
      const limit = streamed
        ? budget.remaining()
        : Math.min(this.timings.timeoutMs, budget.remaining());
      const byBudget = limit < this.timings.timeoutMs || streamed;
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new DOMException("timed out", "TimeoutError")),
        limit,
      );
      this.#opts.onRequest?.(method, current.href);
      this.#log(`${method} ${current.origin}${current.pathname}`);
      let res: Response;
      try {
        res = await fetch(current, {
          ...init,
          headers,
          redirect: "manual",
          signal: controller.signal,
          ...(this.#client ? { client: this.#client } : {}),
        } as RequestInit);
      } catch (e) {
        if (controller.signal.aborted) {
          throw byBudget ? budget.error(host, `${method} ${current.pathname}`) : deadlineError(
            `${host} sent no answer to ${method} ${current.pathname} in ${
              formatSeconds(limit)
            }; giving up`,
            { hint: "check the network and --proxy; the registry may be down" },
          );
        }
        throw e;
      } finally {
        clearTimeout(timer);
      }
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location && res.status !== 304) {
        await res.body?.cancel();
        let next: URL;
        try {
          next = new URL(location, current);
        } catch {
          throw new NetworkError(`${host} redirected to an invalid URL; refused`);
        }
        if (current.protocol === "https:" && next.protocol !== "https:") {
          throw new NetworkError(`${host} redirected to insecure ${next.origin}; refused`);
        }
        if (next.origin !== this.origin) {
          // Credentials belong to the registry, never to the host it redirects to.
          headers.delete("authorization");
        }
        current = next;
        continue;
      }
      return res;
    }
    throw new NetworkError(`${this.registry}: too many redirects`);
  }

  /** Send with retries on 429/5xx and connection errors. */
  async #sendWithRetry(
    url: string,
    init: RequestInit & { headers: Headers },
    replayable: boolean,
  ): Promise<Response> {
    const retries = replayable ? (this.#opts.retries ?? 4) : 0;
    let delay = this.#opts.retryBaseMs ?? 250;
    for (let attempt = 0;; attempt++) {
      let res: Response | undefined;
      try {
        res = await this.#send(url, init);
      } catch (e) {
        if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
          throw e; // a missing --allow-net: the command edge says which permission
        }
        if (!isNetworkError(e) || attempt >= retries) {
          if (e instanceof NetworkError) throw e;
          const what = e instanceof DOMException && e.name === "TimeoutError"
            ? "timed out"
            : redactUserinfo((e as Error).message);
          throw new NetworkError(`cannot reach ${this.#hostOf(new URL(url))}: ${what}`, {
            cause: e,
            hint: "check the network, the registry name and --proxy",
          });
        }
        this.#log(`retry ${attempt + 1} after ${(e as Error).message}`);
      }
      if (res) {
        if (!RETRYABLE_STATUS.has(res.status) || attempt >= retries) return res;
        const after = retryAfterMs(res.headers.get("retry-after"));
        await res.body?.cancel();
        this.#log(`retry ${attempt + 1} after HTTP ${res.status}`);
        if (after !== undefined) {
          await this.#pause(Math.min(after, this.#opts.maxRetryAfterMs ?? 30_000), url);
          continue;
        }
      }
      await this.#pause(delay + Math.floor(Math.random() * delay / 2), url);
      delay *= 2;
    }
  }

  /** Wait before a retry, unless the budget would run out first. */
  async #pause(ms: number, url: string): Promise<void> {
    const budget = this.timings.budget;
    if (ms >= budget.remaining()) {
      throw budget.error(this.#hostOf(new URL(url)), "retries of a failing request");
    }
    await sleep(ms);
  }

  /** Get a bearer token for these scopes (cached per scope set). */
  async #token(challenge: Challenge, scopes: string[]): Promise<string> {
    const key = scopes.slice().sort().join(" ");
    const cached = this.#tokens.get(key);
    if (cached) return cached;
    const realm = challenge.params.realm;
    if (!realm) throw new AuthError(`${this.registry} sent a bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new AuthError(`${this.registry} sent an invalid token realm '${realm}'`);
    }
    if (url.protocol !== "https:" && !isLoopbackHost(url.host) && this.origin.startsWith("https")) {
      throw new AuthError(
        `${this.registry} asks for tokens over plain HTTP (${url.origin}); refused`,
      );
    }
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    for (const s of scopes) url.searchParams.append("scope", s);
    const headers = new Headers({ accept: "application/json" });
    const creds = await this.#creds();
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
      res = await this.#sendWithRetry(
        url.href,
        { method: "POST", headers, body: form.toString() },
        true,
      );
    } else {
      if (creds) headers.set("authorization", basic(creds));
      res = await this.#sendWithRetry(url.href, { method: "GET", headers }, true);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new AuthError(
        `${this.registry} refused ${
          creds ? `the credentials of '${creds.username}'` : "anonymous access"
        }`,
        {
          hint: creds ? "run 'dangerzone-image login' again" : "run 'dangerzone-image login' first",
        },
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new AuthError(`${this.registry}: token service answered HTTP ${res.status}`);
    }
    const bytes = await readDocument(res, {
      host: url.host,
      what: "token reply",
      limit: MAX_TOKEN_REPLY_BYTES,
      timings: this.timings,
    });
    let body: { token?: unknown; access_token?: unknown };
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new AuthError(`${this.registry}: token service sent invalid JSON`);
    }
    if (body === null || typeof body !== "object") {
      throw new AuthError(`${this.registry}: token service sent no token`);
    }
    const token = typeof body.token === "string"
      ? body.token
      : typeof body.access_token === "string"
      ? body.access_token
      : undefined;
    if (!token) throw new AuthError(`${this.registry}: token service sent no token`);
    this.#tokens.set(key, token);
    return token;
  }

  async #authorization(scopes: string[]): Promise<string | undefined> {
    const c = this.#challenge;
    if (!c) return undefined;
    if (c.scheme === "bearer") return `Bearer ${await this.#token(c, scopes)}`;
    if (c.scheme === "basic") {
      const creds = await this.#creds();
      return creds ? basic(creds) : undefined;
    }
    return undefined;
  }

  /**
   * Send a request: authenticates on a 401 challenge (once), retries what is
   * retryable, and throws {@linkcode RegistryError} for statuses outside
   * `accept`.
   */
  async request(req: RegistryRequest): Promise<Response> {
    const url = req.path.startsWith("http://") || req.path.startsWith("https://")
      ? req.path
      : `${this.origin}${req.path}`;
    const target = new URL(url);
    // Only the registry's own origin ever sees its credentials.
    const own = target.origin === this.origin;
    if (!own && this.origin.startsWith("https:") && target.protocol !== "https:") {
      throw new NetworkError(
        `${this.registry} sent ${target.origin}, a plain HTTP location, for ${
          req.method ?? "GET"
        }; refused`,
      );
    }
    const scopes = req.scopes ?? [];
    const replayable = !(req.body instanceof ReadableStream);
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = new Headers(req.headers);
      headers.delete("authorization");
      const auth = own ? await this.#authorization(scopes) : undefined;
      if (auth) headers.set("authorization", auth);
      const res = await this.#sendWithRetry(url, {
        method: req.method ?? "GET",
        headers,
        body: req.body as BodyInit | undefined,
      }, replayable);
      const answered = new URL(res.url || url);
      if ((res.status === 401 || res.status === 403) && answered.origin !== this.origin) {
        await res.body?.cancel();
        throw new AuthError(
          `${answered.host} (where ${this.registry} sent ${
            req.method ?? "GET"
          } ${target.pathname}) asks for credentials; they go only to ${this.registry}; refused`,
          {
            hint: "the registry points to another host for this request; report it to its operator",
          },
        );
      }
      if (res.status === 401 && attempt === 0 && replayable) {
        const challenges = parseChallenges(res.headers.get("www-authenticate") ?? "");
        await res.body?.cancel();
        const c = challenges.find((x) => x.scheme === "bearer") ??
          challenges.find((x) => x.scheme === "basic");
        if (!c) throw new AuthError(`${this.registry} requires authentication it did not describe`);
        if (auth) this.#tokens.clear(); // the token we sent expired or was revoked
        if (c.scheme === "basic" && !(await this.#creds())) {
          throw new AuthError(`${this.registry} requires a login`, {
            hint: `run 'dangerzone-image login ${this.registry}'`,
          });
        }
        // A bearer challenge names the scope it wants; ask for it too.
        if (c.params.scope) {
          for (const s of c.params.scope.split(" ")) if (!scopes.includes(s)) scopes.push(s);
        }
        this.#challenge = c;
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel();
        const creds = await this.#creds();
        throw new AuthError(
          `${this.registry} denied ${req.method ?? "GET"} ${
            new URL(url).pathname
          } (HTTP ${res.status})`,
          {
            hint: !creds
              ? `run 'dangerzone-image login ${this.registry}'`
              : res.status === 401
              ? `the stored user name or password is wrong: run 'dangerzone-image login ${this.registry}' again`
              : "check the account's permissions",
          },
        );
      }
      const ok = req.accept ? req.accept.includes(res.status) : res.ok;
      if (!ok) {
        let detail = "";
        try {
          const text = new TextDecoder().decode(
            await readPrefix(res, {
              host: this.#hostOf(answered),
              what: "error reply",
              limit: MAX_ERROR_REPLY_BYTES,
              timings: this.timings,
            }),
          );
          const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
          const e = parsed.errors?.[0];
          if (e) {
            detail = `: ${String(e.code ?? "")}${e.message ? ` ${String(e.message)}` : ""}`
              .slice(0, 300).replace(/\p{Cc}/gu, " ");
          }
        } catch {
          // not a registry error body
        }
        const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(new URL(url).pathname);
        if (res.status === 404 && manifest) {
          const [, repo, ref] = manifest;
          throw new RegistryError(
            404,
            `no such image/tag ${ref} in ${this.registry}/${repo}; check the name`,
            { hint: "the registry has no manifest under that name (a typo, or not pushed yet)" },
          );
        }
        throw new RegistryError(
          res.status,
          `${this.registry}: ${req.method ?? "GET"} ${
            new URL(url).pathname
          } answered HTTP ${res.status}${detail}`,
        );
      }
      return res;
    }
    throw new AuthError(`${this.registry}: authentication failed`);
  }

  /** `GET /v2/`: checks the registry answers (authenticating if it asks). */
  async ping(): Promise<void> {
    const res = await this.request({ path: "/v2/", accept: [200] });
    await res.body?.cancel();
  }

  /** How many distinct scope sets hold a cached token (tests read it). */
  get cachedTokens(): number {
    return this.#tokens.size;
  }
}
