/**
 * One HTTP exchange with a registry: `fetch` with a header deadline (or the
 * command's budget, whichever ends first) and manual redirects that never
 * carry credentials to another origin and never go from HTTPS to plain
 * HTTP; and the same with retries on 429/5xx and connection errors, as the
 * {@linkcode RetryPolicy} says, inside the command's budget.
 *
 * @module
 */

import { NetworkError } from "../errors/errors.ts";
import { redactUserinfo } from "./redact.ts";
import { isRetryableError, isRetryableStatus, type RetryPolicy, waitAfter } from "./retry.ts";
import { deadlineError, formatSeconds, type Timings } from "./timing.ts";
import { isPermissionError } from "../fs/read_file.ts";

const MAX_REDIRECTS = 5;

/** What {@linkcode sendOnce} needs to know about its transport. */
export interface SendContext {
  /** The registry's own origin: only it keeps the Authorization header across a redirect. */
  origin: string;
  /** Registry name as users give it, for messages. */
  registry: string;
  timings: Timings;
  /** The proxy's HTTP client, if any. */
  client?: Deno.HttpClient;
  /** `host[:port]` of a URL, for messages. */
  hostOf(url: URL): string;
  onRequest?: (method: string, url: string) => void;
  log(line: string): void;
}

/**
 * One fetch with a header deadline and safe manual redirects: a redirect
 * to another origin loses the Authorization header, and HTTPS never
 * redirects to plain HTTP.
 */
export async function sendOnce(
  ctx: SendContext,
  url: string,
  init: RequestInit & { headers: Headers },
): Promise<Response> {
  let current = new URL(url);
  const headers = new Headers(init.headers);
  const method = init.method ?? "GET";
  const budget = ctx.timings.budget;
  // A streamed upload is still being sent while headers are awaited: only the budget bounds it.
  const streamed = init.body instanceof ReadableStream;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const host = ctx.hostOf(current);
    budget.check(host, `${method} ${current.pathname}`);
    const limit = streamed
      ? budget.remaining()
      : Math.min(ctx.timings.timeoutMs, budget.remaining());
    const byBudget = limit < ctx.timings.timeoutMs || streamed;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException("timed out", "TimeoutError")),
      limit,
    );
    ctx.onRequest?.(method, current.href);
    ctx.log(`${method} ${current.origin}${current.pathname}`);
    let res: Response;
    try {
      res = await fetch(current, {
        ...init,
        headers,
        redirect: "manual",
        signal: controller.signal,
        ...(ctx.client ? { client: ctx.client } : {}),
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
      if (next.origin !== ctx.origin) {
        // Credentials belong to the registry, never to the host it redirects to.
        headers.delete("authorization");
      }
      current = next;
      continue;
    }
    return res;
  }
  throw new NetworkError(`${ctx.registry}: too many redirects`);
}

/** {@linkcode sendOnce} with retries on 429/5xx and connection errors (only when `replayable`). */
export async function sendWithRetry(
  ctx: SendContext,
  policy: RetryPolicy,
  url: string,
  init: RequestInit & { headers: Headers },
  replayable: boolean,
): Promise<Response> {
  const retries = replayable ? policy.retries : 0;
  let backoffs = 0;
  for (let attempt = 0;; attempt++) {
    let res: Response | undefined;
    try {
      res = await sendOnce(ctx, url, init);
    } catch (e) {
      // A missing --allow-net: the command edge says which permission.
      if (isPermissionError(e)) throw e;
      if (!isRetryableError(e) || attempt >= retries) {
        if (e instanceof NetworkError) throw e;
        const what = e instanceof DOMException && e.name === "TimeoutError"
          ? "timed out"
          : redactUserinfo((e as Error).message);
        throw new NetworkError(`cannot reach ${ctx.hostOf(new URL(url))}: ${what}`, {
          cause: e,
          hint: "check the network, the registry name and --proxy",
        });
      }
      ctx.log(`retry ${attempt + 1} after ${(e as Error).message}`);
    }
    if (res) {
      if (!isRetryableStatus(res.status) || attempt >= retries) return res;
      await res.body?.cancel();
      ctx.log(`retry ${attempt + 1} after HTTP ${res.status}`);
    }
    const wait = waitAfter(policy, res, backoffs);
    if (wait.backoff) backoffs++;
    await pause(ctx, policy, wait.ms, url);
  }
}

/** Wait before a retry, unless the budget would run out first. */
async function pause(ctx: SendContext, policy: RetryPolicy, ms: number, url: string) {
  const budget = ctx.timings.budget;
  if (ms >= budget.remaining()) {
    throw budget.error(ctx.hostOf(new URL(url)), "retries of a failing request");
  }
  await policy.sleep(ms);
}
