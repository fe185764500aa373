/**
 * A fault-injecting HTTP proxy on loopback, in front of a real registry:
 * each request is passed to `fault(req, n)` (n counts requests per path);
 * a returned Response is sent instead of forwarding, `"corrupt"` flips one
 * byte of the upstream body, undefined forwards unchanged.
 *
 * @module
 */

/** What the fault function decides for one request. */
export type Fault = Response | "corrupt" | undefined;

/** A running proxy. */
export interface FaultProxy extends AsyncDisposable {
  /** `127.0.0.1:PORT`, to use as a registry host. */
  host: string;
  /** Requests seen, in order (`METHOD path`). */
  readonly seen: string[];
  stop(): Promise<void>;
}

/** Start a proxy forwarding to `upstream` (e.g. `http://127.0.0.1:5000`). */
export function startFaultProxy(
  upstream: string,
  fault: (req: Request, n: number) => Fault | Promise<Fault>,
): FaultProxy {
  const counts = new Map<string, number>();
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const key = `${req.method} ${url.pathname}`;
    seen.push(key);
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    const decision = await fault(req, n);
    if (decision instanceof Response) return decision;
    const target = new URL(url.pathname + url.search, upstream);
    const headers = new Headers(req.headers);
    headers.delete("host");
    const res = await fetch(target, {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
    });
    const outHeaders = new Headers(res.headers);
    const loc = outHeaders.get("location");
    if (loc) outHeaders.set("location", loc.replace(new URL(upstream).host, url.host));
    if (decision === "corrupt" && res.body) {
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (bytes.length) bytes[Math.floor(bytes.length / 2)] ^= 0xff;
      return new Response(bytes, { status: res.status, headers: outHeaders });
    }
    return new Response(res.body, { status: res.status, headers: outHeaders });
  });
  const addr = server.addr as Deno.NetAddr;
  const stop = async () => {
    await server.shutdown();
  };
  return { host: `127.0.0.1:${addr.port}`, seen, stop, [Symbol.asyncDispose]: stop };
}
