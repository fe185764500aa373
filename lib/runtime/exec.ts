/**
 * Run a container runtime's command line (`podman`, `docker`) with
 * `Deno.Command`: an argument vector, never a shell string; optional stdin
 * stream; stdout and stderr captured.
 *
 * @module
 */

import { DzError, RuntimeError } from "../errors/errors.ts";
import { pipeBytes } from "../fs/byte_stream.ts";
import { type EnvReader, readEnv } from "../config/paths.ts";

/** Output of a finished command. */
export interface ToolOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runTool}. */
export interface RunToolOptions {
  /** Streamed to the process's stdin (closed at the end). */
  stdin?: ReadableStream<Uint8Array>;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * Run `bin args…`; resolves with its output whatever the exit code.
 * @throws RuntimeError when the program cannot be started.
 */
export async function runTool(
  bin: string,
  args: string[],
  options: RunToolOptions = {},
): Promise<ToolOutput> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(bin, {
      args,
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      ...(options.env ? { env: options.env } : {}),
    }).spawn();
  } catch (cause) {
    await options.stdin?.cancel().catch(() => {});
    if (cause instanceof Deno.errors.NotFound) {
      throw new RuntimeError(`${bin} is not installed (not found on PATH)`, {
        cause,
        hint: "install it, or choose another --runtime (e.g. oci:DIR)",
      });
    }
    throw new RuntimeError(`cannot run ${bin}: ${(cause as Error).message}`, { cause });
  }
  let feedError: unknown;
  const feeding = options.stdin
    ? pipeBytes(options.stdin, child.stdin).catch((e) => {
      feedError = e;
    })
    : Promise.resolve();
  const [out] = await Promise.all([child.output(), feeding]);
  if (feedError !== undefined && (out.success || feedError instanceof DzError)) {
    // The input failed part-way (e.g. a blob that does not hash to its
    // digest): that is the cause, whatever the tool made of the cut input.
    throw feedError;
  }
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * The line of a tool's stderr that says why it failed: the last `Error:`
 * line (podman and docker print their cause there, after any warnings;
 * a logrus `level=error msg="…"` line counts as one), else the last
 * non-empty line; without the `Error: ` prefix.
 */
export function failureLine(stderr: string, code: number): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    // logrus lines: time="…" level=error msg="the cause"
    const m = /\blevel=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"/.exec(l);
    return m ? `Error: ${m[1].replace(/\\(.)/g, "$1")}` : l;
  });
  const errors = lines.filter((l) => /^(Error|error)(:| response from daemon:)/.test(l));
  const line = errors.pop() ?? lines.pop();
  if (line === undefined) return `exit status ${code}`;
  return line.replace(/^(Error|error):\s*/, "").replace(/^Error response from daemon:\s*/, "");
}

/** Is `bin` on PATH (an executable file in one of its directories)? `env` reads PATH. */
export function onPath(bin: string, env: EnvReader = readEnv): boolean {
  const path = env("PATH");
  if (path === undefined) return false;
  const sep = Deno.build.os === "windows" ? ";" : ":";
  const exts = Deno.build.os === "windows" ? [".exe", ".cmd", ""] : [""];
  for (const dir of (path ?? "").split(sep)) {
    if (!dir) continue;
    for (const ext of exts) {
      try {
        const info = Deno.statSync(`${dir}/${bin}${ext}`);
        if (info.isFile && (Deno.build.os === "windows" || ((info.mode ?? 0o111) & 0o111))) {
          return true;
        }
      } catch {
        // not here
      }
    }
  }
  return false;
}
