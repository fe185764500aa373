/**
 * A raw TCP proxy on loopback that drops connections mid-response: bytes
 * are relayed both ways unchanged until a request matching `match` (seen in
 * the client's bytes, e.g. `/blobs/`) has been sent; then, after
 * `cutAfterBytes` bytes of the upstream's answer have been relayed, both
 * sides are closed. Only the first `times` matching requests are cut, so a
 * client that retries can succeed. HTTP-level fault injection (statuses,
 * bodies) is `tests/helpers/fault_proxy.ts`; this one breaks the transport.
 *
 * @module
 */

/** Options of {@linkcode startTcpFaultProxy}. */
export interface TcpFaultOptions {
  /** Upstream `host:port`. */
  upstream: string;
  /** Text that marks the request to cut (matched against the request bytes). */
  match: string;
  /** Response bytes relayed before the cut (headers included). */
  cutAfterBytes: number;
  /** How many matching requests to cut (default: all). */
  times?: number;
}

/** A running proxy. */
export interface TcpFaultProxy extends AsyncDisposable {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** Connections cut so far. */
  readonly cuts: number;
  stop(): Promise<void>;
}

/** Start the proxy. */
export function startTcpFaultProxy(opts: TcpFaultOptions): TcpFaultProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [uhost, uport] = [
    opts.upstream.slice(0, opts.upstream.lastIndexOf(":")),
    Number(opts.upstream.slice(opts.upstream.lastIndexOf(":") + 1)),
  ];
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let cuts = 0;
  let remaining = opts.times ?? Infinity;
  const needle = new TextEncoder().encode(opts.match);

  const contains = (hay: Uint8Array, n: Uint8Array) => {
    outer: for (let i = 0; i + n.length <= hay.length; i++) {
      for (let j = 0; j < n.length; j++) if (hay[i + j] !== n[j]) continue outer;
      return true;
    }
    return false;
  };
  const closeQuietly = (c: Deno.Conn) => {
    open.delete(c);
    try {
      c.close();
    } catch {
      // already closed
    }
  };

  async function handle(client: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: uhost, port: uport });
    } catch {
      closeQuietly(client);
      return;
    }
    open.add(upstream);
    let armed = false;
    let relayed = 0;
    const up = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await client.read(buf).catch(() => null);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        if (!armed && remaining > 0 && contains(chunk, needle)) {
          armed = true;
          relayed = 0;
          remaining--;
        }
        await upstream.write(chunk).catch(() => {});
      }
      closeQuietly(upstream);
    })();
    const down = (async () => {
      const buf = new Uint8Array(16 * 1024);
      for (;;) {
        const n = await upstream.read(buf).catch(() => null);
        if (n === null) break;
        let chunk = buf.subarray(0, n);
        if (armed && relayed + chunk.length >= opts.cutAfterBytes) {
          chunk = chunk.subarray(0, Math.max(0, opts.cutAfterBytes - relayed));
          if (chunk.length) await writeAll(client, chunk).catch(() => {});
          cuts++;
          break;
        }
        if (armed) relayed += chunk.length;
        const ok = await writeAll(client, chunk).then(() => true, () => false);
        if (!ok) break;
      }
      closeQuietly(client);
      closeQuietly(upstream);
    })();
    await Promise.allSettled([up, down]);
  }

  const accepting = (async () => {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await listener.accept();
      } catch {
        return;
      }
      open.add(c);
      const t = handle(c).finally(() => tasks.delete(t));
      tasks.add(t);
    }
  })();

  const stop = async () => {
    try {
      listener.close();
    } catch {
      // already closed
    }
    for (const c of [...open]) closeQuietly(c);
    await accepting;
    await Promise.allSettled([...tasks]);
  };
  return {
    host: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get cuts() {
      return cuts;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
