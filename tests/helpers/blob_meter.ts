/**
 * A metering HTTP proxy in front of a real registry (built on
 * {@linkcode startFaultProxy}): it counts the blob body bytes it sends per
 * digest, records each blob GET's `Range` header and answer, can pace blob
 * bodies to a shared rate (a slow link, so a test can interrupt a transfer
 * under way), and per request can cut the body after N bytes (a dropped
 * connection), ignore `Range` (answer 200 with the whole blob, as some
 * registries and caches do) or answer a 206 whose `Content-Range` is not
 * the one asked for.
 *
 * @module
 */

import { type FaultProxy, startFaultProxy } from "./fault_proxy.ts";

/** What to do with one blob GET. */
export interface BlobPlan {
  /** Close the connection after this many body bytes. */
  cutAfter?: number;
  /** Drop the request's Range header (the whole blob, 200). */
  ignoreRange?: boolean;
  /** Rewrite a 206's Content-Range to start at 0. */
  badRange?: boolean;
}

/** One blob GET as seen by the proxy. */
export interface BlobRequest {
  digest: string;
  range: string | null;
  status: number;
  /** Body bytes sent. */
  sent: number;
}

/** A running meter. */
export interface BlobMeter extends AsyncDisposable {
  host: string;
  proxy: FaultProxy;
  readonly requests: BlobRequest[];
  /** Body bytes sent for `digest` (all digests when absent). */
  sent(digest?: string): number;
  stop(): Promise<void>;
}

/** Options of {@linkcode startBlobMeter}. */
export interface BlobMeterOptions {
  /** Pace all blob bodies together to this many bytes per second. */
  rate?: number;
  /** Decide per blob GET (`n`: how many GETs of this digest so far, from 1). */
  plan?: (digest: string, n: number, range: string | null) => BlobPlan | undefined;
}

const SLICE = 64 * 1024;

/** Start a meter forwarding to `upstream` (e.g. `http://127.0.0.1:5000`). */
export function startBlobMeter(upstream: string, options: BlobMeterOptions = {}): BlobMeter {
  const requests: BlobRequest[] = [];
  const counts = new Map<string, number>();
  let nextFree = 0; // the shared link is busy until then (ms)
  const pace = async (n: number) => {
    if (!options.rate) return;
    const now = performance.now();
    nextFree = Math.max(nextFree, now) + (n / options.rate) * 1000;
    const wait = nextFree - now;
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  };
  const proxy = startFaultProxy(upstream, async (req) => {
    const url = new URL(req.url);
    const m = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    if (req.method !== "GET" || !m) return undefined;
    const digest = m[1];
    const n = (counts.get(digest) ?? 0) + 1;
    counts.set(digest, n);
    const range = req.headers.get("range");
    const plan = options.plan?.(digest, n, range) ?? {};
    const headers = new Headers(req.headers);
    headers.delete("host");
    if (plan.ignoreRange) headers.delete("range");
    const res = await fetch(new URL(url.pathname + url.search, upstream), { headers });
    const record: BlobRequest = { digest, range, status: res.status, sent: 0 };
    requests.push(record);
    const out = new Headers(res.headers);
    if (plan.badRange && res.status === 206) {
      const total = (out.get("content-range") ?? "").split("/")[1] ?? "*";
      const len = Number(out.get("content-length") ?? 0);
      out.set("content-range", `bytes 0-${len - 1}/${total}`);
    }
    if (!res.body) return new Response(null, { status: res.status, headers: out });
    const reader = res.body.getReader();
    let pending: Uint8Array | undefined;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!pending || pending.byteLength === 0) {
          const next = await reader.read();
          if (next.done) return controller.close();
          pending = next.value;
        }
        let piece = pending.subarray(0, SLICE);
        pending = pending.subarray(piece.byteLength);
        if (plan.cutAfter !== undefined && record.sent + piece.byteLength >= plan.cutAfter) {
          piece = piece.subarray(0, Math.max(0, plan.cutAfter - record.sent));
          await pace(piece.byteLength);
          record.sent += piece.byteLength;
          if (piece.byteLength) controller.enqueue(piece);
          await reader.cancel().catch(() => {});
          // Give the bytes a moment to leave, then break the connection.
          await new Promise((r) => setTimeout(r, 20));
          controller.error(new Error("connection cut by the test proxy"));
          return;
        }
        await pace(piece.byteLength);
        record.sent += piece.byteLength;
        controller.enqueue(piece);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark: 0 });
    return new Response(body, { status: res.status, headers: out });
  });
  const sent = (digest?: string) =>
    requests.filter((r) => digest === undefined || r.digest === digest)
      .reduce((a, r) => a + r.sent, 0);
  return {
    host: proxy.host,
    proxy,
    requests,
    sent,
    stop: () => proxy.stop(),
    [Symbol.asyncDispose]: () => proxy.stop(),
  };
}
