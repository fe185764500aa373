/**
 * Hostile servers on loopback, built the way an attacker would: a recorder
 * on another origin (e.g. 127.0.0.2) that logs what reaches it, a registry
 * whose routes answer whatever a test scripts (endless bodies, bodies
 * dripped a byte at a time, huge listings), a TCP server that accepts and
 * never answers, and a runner for the CLI as a child process that reports
 * its peak RSS (VmHWM) and wall time.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** One request seen by a {@linkcode Recorder}. */
export interface Recorded {
  /** `METHOD /path?query`. */
  line: string;
  /** The Authorization header received, or null. */
  authorization: string | null;
}

/** A running recording server. */
export interface Recorder extends AsyncDisposable {
  /** `http://HOST:PORT`. */
  origin: string;
  readonly seen: Recorded[];
  stop(): Promise<void>;
}

/**
 * A server on `hostname` that records each request, then forwards it to
 * `upstream` (unchanged) or answers with `handler`.
 */
export function startRecorder(
  hostname: string,
  upstream?: string,
  handler?: (req: Request) => Response | Promise<Response>,
): Recorder {
  const seen: Recorded[] = [];
  const server = Deno.serve({ hostname, port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({
      line: `${req.method} ${url.pathname}${url.search}`,
      authorization: req.headers.get("authorization"),
    });
    if (!upstream) return handler ? await handler(req) : new Response("", { status: 404 });
    const headers = new Headers(req.headers);
    headers.delete("host");
    const res = await fetch(new URL(url.pathname + url.search, upstream), {
      method: req.method,
      headers,
      body: req.body,
      redirect: "manual",
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  const port = (server.addr as Deno.NetAddr).port;
  const stop = () => server.shutdown();
  return { origin: `http://${hostname}:${port}`, seen, stop, [Symbol.asyncDispose]: stop };
}

/** A body that never ends: `chunk` bytes again and again, as fast as the reader takes them. */
export function endlessBody(fill = 0x7b, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  const bytes = new Uint8Array(chunk).fill(fill);
  return new ReadableStream({
    pull(c) {
      c.enqueue(bytes.slice());
    },
  }, { highWaterMark: 2 });
}

/** A body sending `text` one byte every `everyMs`, then (if it gets there) closing. */
export function drippedBody(text: string, everyMs: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let i = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new ReadableStream({
    pull(c) {
      if (i >= bytes.length) return c.close();
      return new Promise((resolve) => {
        timer = setTimeout(() => {
          c.enqueue(bytes.slice(i, i + 1));
          i++;
          resolve();
        }, i === 0 ? 0 : everyMs);
      });
    },
    cancel() {
      clearTimeout(timer);
    },
  });
}

/** A scripted registry: `route(req)` answers; undefined means 404. */
export interface HostileRegistry extends AsyncDisposable {
  /** `127.0.0.1:PORT`, to use as a registry host. */
  host: string;
  /** Requests seen (`METHOD path`). */
  readonly seen: string[];
  /** How many requests' path matched `re`. */
  count(re: RegExp): number;
  stop(): Promise<void>;
}

/** Start a scripted registry on 127.0.0.1. */
export function startHostileRegistry(
  route: (req: Request, url: URL) => Response | undefined | Promise<Response | undefined>,
): HostileRegistry {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    seen.push(`${req.method} ${url.pathname}`);
    return (await route(req, url)) ?? new Response('{"errors":[{"code":"NOT_FOUND"}]}', {
      status: 404,
      headers: { "content-type": "application/json" },
    });
  });
  const port = (server.addr as Deno.NetAddr).port;
  const stop = () => server.shutdown();
  return {
    host: `127.0.0.1:${port}`,
    seen,
    count: (re) => seen.filter((s) => re.test(s)).length,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** A TCP server that accepts connections and never sends a byte. */
export interface SilentServer extends AsyncDisposable {
  host: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  stop(): Promise<void>;
}

/** Start a {@linkcode SilentServer} on 127.0.0.1. */
export function startSilentServer(): SilentServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let accepted = 0;
  (async () => {
    try {
      for await (const c of listener) {
        accepted++;
        conns.push(c);
        // Drain what the client sends, answer nothing.
        c.readable.pipeTo(new WritableStream()).catch(() => {});
      }
    } catch {
      // closed
    }
  })();
  const stop = () => {
    try {
      listener.close();
    } catch {
      // closed
    }
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    return Promise.resolve();
  };
  return {
    host: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get accepted() {
      return accepted;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** What a CLI run did. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the child, in MiB (VmHWM, read just before it exits). */
  peakRssMiB: number;
  /** Wall time in seconds. */
  seconds: number;
}

const MOD = fileURLToPath(new URL("../../mod.ts", import.meta.url));

/**
 * Run `deno run -A mod.ts ARGS` as a child process, polling
 * `/proc/<pid>/status` for its peak RSS; killed after `killAfterMs` or
 * above `killAboveMiB` of RSS (watchdogs: a run that gets there has failed
 * its deadline or its memory bound; the exit code is then 137).
 */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; killAfterMs?: number; killAboveMiB?: number } = {},
): Promise<CliRun> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MOD, ...args],
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peakKiB = 0;
  const poll = async () => {
    try {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const m = status.match(/VmHWM:\s+(\d+) kB/);
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
      if (peakKiB > (options.killAboveMiB ?? 1024) * 1024) child.kill("SIGKILL");
    } catch {
      // gone
    }
  };
  const poller = setInterval(poll, 50);
  const watchdog = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }, options.killAfterMs ?? 120_000);
  const [out, err] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  await poll();
  const status = await child.status;
  clearInterval(poller);
  clearTimeout(watchdog);
  return {
    code: status.code,
    stdout: out,
    stderr: err,
    peakRssMiB: Math.round(peakKiB / 1024),
    seconds: (performance.now() - start) / 1000,
  };
}
