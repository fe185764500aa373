/**
 * Run a container runtime's command line (`podman`, `docker`) with
 * `Deno.Command`: an argument vector, never a shell string; optional stdin
 * stream; stdout and stderr captured.
 *
 * @module
 */

import { RuntimeError } from "../cli/errors.ts";

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
    ? options.stdin.pipeTo(child.stdin).catch((e) => {
      feedError = e;
    })
    : Promise.resolve();
  const [out] = await Promise.all([child.output(), feeding]);
  if (feedError !== undefined && out.success) {
    // The input failed part-way but the tool accepted what it got: surface it.
    throw feedError;
  }
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Run and require success; returns stdout. */
export async function runToolOk(
  bin: string,
  args: string[],
  options: RunToolOptions = {},
): Promise<string> {
  const out = await runTool(bin, args, options);
  if (out.code !== 0) {
    const line = out.stderr.trim().split("\n").filter(Boolean).pop() ?? `exit ${out.code}`;
    throw new RuntimeError(`${bin} ${args[0] ?? ""} failed: ${line}`);
  }
  return out.stdout;
}

/** Is `bin` on PATH (an executable file in one of its directories)? */
export function onPath(bin: string): boolean {
  let path: string | undefined;
  try {
    path = Deno.env.get("PATH");
  } catch {
    return false;
  }
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
