/**
 * A tiny loopback SOCKS5 relay for tests (RFC 1928, no authentication,
 * CONNECT only; address types IPv4 and domain name). It records every
 * CONNECT it relays, so a test can show that traffic really went through the
 * proxy, and with which address type (`socks5h://` clients send the host
 * name, `socks5://` clients resolve it themselves and send an address).
 *
 * Domain names are resolved by the relay, through `hosts` first (so a test
 * can use a name that only the proxy can resolve, as Tor's `.onion` names
 * are), then the system resolver.
 *
 * ```ts
 * await using proxy = await startSocks5Proxy({ hosts: { "registry.test": "127.0.0.1" } });
 * // fetch through `socks5h://${proxy.host}` …
 * proxy.connections; // [{ atyp: "domain", host: "registry.test", port: 5000 }]
 * ```
 *
 * @module
 */

/** One relayed CONNECT request. */
export interface Socks5Connection {
  /** Address type the client sent. */
  atyp: "ipv4" | "domain";
  /** Host as the client sent it (dotted IPv4 or the name). */
  host: string;
  port: number;
  /** The RFC 1929 username the client sent (only with `userPass`). */
  username?: string;
}

/** Options for {@linkcode startSocks5Proxy}. */
export interface Socks5Options {
  /** Names the relay resolves itself, e.g. `{ "registry.test": "127.0.0.1" }`. */
  hosts?: Record<string, string>;
  /**
   * Prefer username/password authentication (RFC 1929) when the client
   * offers it, as Tor does, and record the username (any is accepted).
   */
  userPass?: boolean;
}

/** A running relay; `stop()` or `await using`. */
export interface Socks5Proxy extends AsyncDisposable {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** Every CONNECT relayed so far (also those whose upstream refused). */
  connections: Socks5Connection[];
  /** Close the listener and every open relay. Idempotent. */
  stop(): Promise<void>;
}

/** Reads exact byte counts from a connection (buffers what came extra). */
class Reader {
  #buf = new Uint8Array(0);
  constructor(private readonly conn: Deno.Conn) {}
  async read(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      const chunk = new Uint8Array(4096);
      const got = await this.conn.read(chunk);
      if (got === null) throw new Error("client closed during the SOCKS handshake");
      const next = new Uint8Array(this.#buf.length + got);
      next.set(this.#buf);
      next.set(chunk.subarray(0, got), this.#buf.length);
      this.#buf = next;
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }
  /** Bytes read past the handshake (the start of the relayed stream). */
  rest(): Uint8Array {
    return this.#buf;
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

// Reply: VER=5, REP, RSV=0, ATYP=IPv4, BND.ADDR=0.0.0.0, BND.PORT=0.
function reply(rep: number): Uint8Array {
  return new Uint8Array([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]);
}

/** Start the relay on a free loopback port. */
export function startSocks5Proxy(options: Socks5Options = {}): Promise<Socks5Proxy> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Socks5Connection[] = [];
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let stopped = false;

  async function handle(client: Deno.Conn): Promise<void> {
    open.add(client);
    let upstream: Deno.Conn | undefined;
    try {
      const r = new Reader(client);
      const [ver, nMethods] = await r.read(2);
      if (ver !== 5) return;
      const methods = await r.read(nMethods);
      let username: string | undefined;
      if (options.userPass && methods.includes(2)) {
        await writeAll(client, new Uint8Array([5, 2]));
        const [, ulen] = await r.read(2);
        username = new TextDecoder().decode(await r.read(ulen));
        const [plen] = await r.read(1);
        await r.read(plen);
        await writeAll(client, new Uint8Array([1, 0])); // accepted
      } else if (!methods.includes(0)) {
        await writeAll(client, new Uint8Array([5, 0xff])); // no acceptable method
        return;
      } else {
        await writeAll(client, new Uint8Array([5, 0]));
      }
      const [v, cmd, , atyp] = await r.read(4);
      if (v !== 5 || cmd !== 1) {
        await writeAll(client, reply(7)); // command not supported
        return;
      }
      let host: string;
      let kind: Socks5Connection["atyp"];
      if (atyp === 1) {
        host = Array.from(await r.read(4)).join(".");
        kind = "ipv4";
      } else if (atyp === 3) {
        const [len] = await r.read(1);
        host = new TextDecoder().decode(await r.read(len));
        kind = "domain";
      } else {
        await writeAll(client, reply(8)); // address type not supported
        return;
      }
      const pb = await r.read(2);
      const port = (pb[0] << 8) | pb[1];
      connections.push({ atyp: kind, host, port, ...(username !== undefined ? { username } : {}) });
      const target = kind === "domain" ? (options.hosts?.[host] ?? host) : host;
      try {
        upstream = await Deno.connect({ hostname: target, port });
      } catch {
        await writeAll(client, reply(5)); // connection refused
        return;
      }
      open.add(upstream);
      await writeAll(client, reply(0));
      const early = r.rest();
      if (early.length) await writeAll(upstream, early);
      const up = upstream;
      await Promise.allSettled([
        client.readable.pipeTo(up.writable),
        up.readable.pipeTo(client.writable),
      ]);
    } catch {
      // A broken client or upstream just ends this relay.
    } finally {
      for (const c of [client, upstream]) {
        if (!c) continue;
        open.delete(c);
        try {
          c.close();
        } catch {
          // already closed by pipeTo
        }
      }
    }
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const t = handle(conn);
        tasks.add(t);
        t.finally(() => tasks.delete(t));
      }
    } catch {
      // listener closed
    }
  })();

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    listener.close();
    for (const c of open) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    await accepting;
    await Promise.allSettled([...tasks]);
  };
  const port = (listener.addr as Deno.NetAddr).port;
  return Promise.resolve({
    host: `127.0.0.1:${port}`,
    connections,
    stop,
    [Symbol.asyncDispose]: stop,
  });
}
