/**
 * A real Docker Engine for tests: `dockerd` (Debian `docker.io`) started as
 * root on a private socket with its own data root, vfs storage and no
 * networking changes (no iptables, no bridge), stopped (SIGTERM, then
 * SIGKILL) and removed after. Commands reach it through the `env` it
 * returns (`DOCKER_HOST=unix://DIR/docker.sock`), passed per command: the
 * test process's own environment is left alone.
 *
 * ```ts
 * await using engine = await startDockerd();
 * await engine.docker("images"); // runs `docker images` against it
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { onPath } from "../../lib/runtime/exec.ts";

/** A running engine. */
export interface TestDockerd extends AsyncDisposable {
  /** Temp dir holding the socket, data root, exec root, pid file and log. */
  dir: string;
  /** `unix://DIR/docker.sock`. */
  host: string;
  /** `{ DOCKER_HOST: host }`, for commands that must talk to this engine. */
  env: Record<string, string>;
  /** Run `docker args…` against this engine; stdout on success, throws otherwise. */
  docker(...args: string[]): Promise<string>;
  /** Stop the engine (idempotent) and remove its directory. */
  stop(): Promise<void>;
}

/** Can a private dockerd be started here (root, `dockerd` and `docker` on PATH)? */
export function canStartDockerd(): boolean {
  return Deno.uid() === 0 && onPath("dockerd") && onPath("docker");
}

/** Start a private dockerd; resolves once it answers `docker version`. */
export async function startDockerd(options: { timeoutMs?: number } = {}): Promise<TestDockerd> {
  // A short path: unix socket paths are limited to about 100 bytes.
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "dzd-" });
  const host = `unix://${dir}/docker.sock`;
  const env = { DOCKER_HOST: host };
  const log = await Deno.open(join(dir, "dockerd.log"), { write: true, create: true });
  const child = new Deno.Command("dockerd", {
    args: [
      "--storage-driver",
      "vfs",
      "--iptables=false",
      "--ip6tables=false",
      "--bridge=none",
      "--host",
      host,
      "--data-root",
      join(dir, "root"),
      "--exec-root",
      join(dir, "exec"),
      "--pidfile",
      join(dir, "pid"),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logging = Promise.all([
    child.stdout.pipeTo(log.writable, { preventClose: true }),
    child.stderr.pipeTo(log.writable, { preventClose: true }),
  ]).catch(() => {}).finally(() => {
    try {
      log.close();
    } catch {
      // closed
    }
  });
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const docker = async (...args: string[]): Promise<string> => {
    const out = await new Deno.Command("docker", {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (!out.success) {
      throw new Error(`docker ${args.join(" ")}: ${dec.decode(out.stderr).trim()}`);
    }
    return dec.decode(out.stdout);
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 15_000);
      await status;
      clearTimeout(timer);
    }
    await logging;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exited) {
      const text = await Deno.readTextFile(join(dir, "dockerd.log")).catch(() => "");
      await stop();
      throw new Error(`dockerd exited at start: ${text.trim().split("\n").slice(-3).join(" | ")}`);
    }
    try {
      if ((await docker("version", "--format", "{{.Server.Version}}")).trim() !== "") break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error("dockerd did not answer in time");
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { dir, host, env, docker, stop, [Symbol.asyncDispose]: stop };
}
