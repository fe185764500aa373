/**
 * A loopback TCP relay that behaves like a real link: every connection
 * shares one bandwidth (bytes per second, each direction) and each byte is
 * delivered `latencyMs` after it was sent (a delay line, so round trips cost
 * 2 × latency). Bytes are relayed unchanged; the relay counts what it
 * carried and how many connections it accepted. Used by `bench/` (a 20 MB/s,
 * 50 ms link) and by tests that need a transfer slow enough to interrupt.
 *
 * @module
 */

/** Options of {@linkcode startRelay}. */
export interface RelayOptions {
  /** Upstream `host:port`. */
  upstream: string;
  /** Shared bandwidth per direction, bytes/s (default unlimited). */
  bytesPerSecond?: number;
  /** One-way added latency (ms, default 0). */
  latencyMs?: number;
}

/** A running relay. */
export interface Relay extends AsyncDisposable {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** Bytes carried upstream → client. */
  readonly bytesDown: number;
  /** Bytes carried client → upstream. */
  readonly bytesUp: number;
  /** Connections accepted. */
  readonly connections: number;
  stop(): Promise<void>;
}

const SLICE = 16 * 1024;

/** A shared link direction: reserves transmission time slots. */
class Link {
  #free = 0;
  constructor(readonly rate: number | undefined) {}
  /** When `n` bytes sent now have left the link (ms, performance.now clock). */
  reserve(n: number): number {
    const now = performance.now();
    if (!this.rate) return now;
    this.#free = Math.max(this.#free, now) + (n / this.rate) * 1000;
    return this.#free;
  }
}

function sleepUntil(t: number): Promise<void> {
  const wait = t - performance.now();
  return wait > 0.5 ? new Promise((r) => setTimeout(r, wait)) : Promise.resolve();
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** Start a relay to `options.upstream`. */
export function startRelay(options: RelayOptions): Relay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const i = options.upstream.lastIndexOf(":");
  const [uhost, uport] = [options.upstream.slice(0, i), Number(options.upstream.slice(i + 1))];
  const latency = options.latencyMs ?? 0;
  const down = new Link(options.bytesPerSecond);
  const up = new Link(options.bytesPerSecond);
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const stats = { bytesDown: 0, bytesUp: 0, connections: 0 };

  const close = (c: Deno.Conn) => {
    open.delete(c);
    try {
      c.close();
    } catch {
      // closed
    }
  };

  /** Copy `from` → `to` through `link`: each slice leaves when the link is free, arrives latency later. */
  const pipe = async (from: Deno.Conn, to: Deno.Conn, link: Link, count: (n: number) => void) => {
    // Reading and delivering run apart (a delay line holds what is in flight).
    const inflight: { at: number; data: Uint8Array }[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    const deliver = (async () => {
      for (;;) {
        const next = inflight.shift();
        if (!next) {
          if (ended) return;
          await new Promise<void>((r) => (wake = r));
          continue;
        }
        await sleepUntil(next.at);
        const ok = await writeAll(to, next.data).then(() => true, () => false);
        if (!ok) return;
        count(next.data.byteLength);
      }
    })();
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await from.read(buf).catch(() => null);
      if (n === null) break;
      for (let off = 0; off < n; off += SLICE) {
        const data = buf.slice(off, Math.min(n, off + SLICE));
        const leaves = link.reserve(data.byteLength);
        // Back-pressure: do not read far ahead of what the link can carry.
        await sleepUntil(leaves - 5);
        inflight.push({ at: leaves + latency, data });
        wake?.();
      }
    }
    ended = true;
    wake?.();
    await deliver;
    try {
      await to.closeWrite();
    } catch {
      close(to);
    }
  };

  const handle = async (client: Deno.Conn) => {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: uhost, port: uport });
    } catch {
      close(client);
      return;
    }
    open.add(upstream);
    await Promise.allSettled([
      pipe(client, upstream, up, (n) => (stats.bytesUp += n)),
      pipe(upstream, client, down, (n) => (stats.bytesDown += n)),
    ]);
    close(client);
    close(upstream);
  };

  const accepting = (async () => {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await listener.accept();
      } catch {
        return;
      }
      stats.connections++;
      open.add(c);
      const t = handle(c).finally(() => tasks.delete(t));
      tasks.add(t);
    }
  })();

  const stop = async () => {
    try {
      listener.close();
    } catch {
      // closed
    }
    for (const c of [...open]) close(c);
    await accepting;
    await Promise.allSettled([...tasks]);
  };
  return {
    host: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get bytesDown() {
      return stats.bytesDown;
    },
    get bytesUp() {
      return stats.bytesUp;
    },
    get connections() {
      return stats.connections;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
