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
 * Layers 3 and 4 live in `send.ts` (with the policy in `retry.ts`), bearer
 * tokens in `token.ts`, the proxy client in `proxy.ts`; this module
 * chooses the scheme, answers challenges and turns statuses into errors.
 *
 * @module
 */

import { AuthError, NetworkError, RegistryError } from "../errors/errors.ts";
import { type Challenge, parseChallenges } from "./challenge.ts";
import { type Credentials, type CredentialStore, noCredentials } from "./credentials.ts";
import { isLoopbackHost, registryEndpoint } from "./reference.ts";
import { readPrefix } from "./body_guard.ts";
import { MAX_ERROR_REPLY_BYTES } from "./limits.ts";
import { proxyClient } from "./proxy.ts";
import { resolveRetryPolicy, type RetryOptions, type RetryPolicy } from "./retry.ts";
import { type SendContext, sendWithRetry } from "./send.ts";
import { type NetworkTimings, resolveTimings, type Timings } from "./timing.ts";
import { basicAuthorization, fetchToken } from "./token.ts";

export { retryAfterMs } from "./retry.ts";

/** How to reach registries. */
export interface TransportOptions extends NetworkTimings, RetryOptions {
  /** Hosts (`host[:port]`) allowed over plain HTTP besides loopback. */
  insecureRegistries?: string[];
  /** `http://`, `https://` or `socks5h://` proxy for every request. */
  proxy?: string;
  /** Where credentials come from (default: none). */
  credentials?: CredentialStore;
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

/** The transport to one registry. */
export class RegistryTransport {
  /** Registry as users name it (`docker.io`, `127.0.0.1:5000`). */
  readonly registry: string;
  /** `http:` or `https:` origin of the API. */
  readonly origin: string;
  readonly #opts: TransportOptions;
  /** Deadlines and the command's budget, shared with the client's body reads. */
  readonly timings: Timings;
  /** How failing requests are retried. */
  readonly retry: RetryPolicy;
  readonly #client?: Deno.HttpClient;
  readonly #tokens = new Map<string, string>();
  #challenge?: Challenge;
  #credentials?: Credentials | null;

  constructor(registry: string, options: TransportOptions = {}) {
    this.registry = registry;
    this.#opts = options;
    this.timings = resolveTimings(options);
    this.retry = resolveRetryPolicy(options);
    const endpoint = registryEndpoint(registry);
    const insecure = isLoopbackHost(endpoint) ||
      (options.insecureRegistries ?? []).some((h) => h === registry || h === endpoint);
    this.origin = `${insecure ? "http" : "https"}://${endpoint}`;
    if (options.proxy) this.#client = proxyClient(options.proxy);
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

  /** What the send and token modules need to know about this transport. */
  get #ctx(): SendContext {
    return {
      origin: this.origin,
      registry: this.registry,
      timings: this.timings,
      client: this.#client,
      hostOf: (url) => this.#hostOf(url),
      onRequest: this.#opts.onRequest,
      log: (line) => this.#log(line),
    };
  }

  /** Send with retries on 429/5xx and connection errors. */
  #sendWithRetry(
    url: string,
    init: RequestInit & { headers: Headers },
    replayable: boolean,
  ): Promise<Response> {
    return sendWithRetry(this.#ctx, this.retry, url, init, replayable);
  }

  /** Get a bearer token for these scopes (cached per scope set). */
  async #token(challenge: Challenge, scopes: string[]): Promise<string> {
    const key = scopes.slice().sort().join(" ");
    const cached = this.#tokens.get(key);
    if (cached) return cached;
    const token = await fetchToken(
      {
        registry: this.registry,
        origin: this.origin,
        timings: this.timings,
        send: (url, init) => this.#sendWithRetry(url, init, true),
      },
      challenge,
      scopes,
      await this.#creds(),
    );
    this.#tokens.set(key, token);
    return token;
  }

  async #authorization(scopes: string[]): Promise<string | undefined> {
    const c = this.#challenge;
    if (!c) return undefined;
    if (c.scheme === "bearer") return `Bearer ${await this.#token(c, scopes)}`;
    if (c.scheme === "basic") {
      const creds = await this.#creds();
      return creds ? basicAuthorization(creds) : undefined;
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
