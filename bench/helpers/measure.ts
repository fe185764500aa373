/**
 * Run a program as a subprocess and measure it: wall time, and peak
 * resident memory of that process (`VmHWM` in `/proc/<pid>/status`,
 * sampled every 20 ms until it exits; the kernel keeps the high-water mark,
 * so the last sample is the peak up to then). Child processes it starts
 * (e.g. `podman load`) are not counted.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** Project root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** What a run measured. */
export interface Measured {
  seconds: number;
  /** Peak RSS in bytes (0 when /proc could not be read). */
  peakRss: number;
  stdout: string;
  stderr: string;
}

async function hwm(pid: number): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Run `cmd args…`; throws with its stderr unless it exits 0. */
export async function measure(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<Measured> {
  const t0 = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd ?? ROOT,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  let running = true;
  const sampler = (async () => {
    while (running) {
      const v = await hwm(child.pid);
      if (v !== undefined && v > peak) peak = v;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const out = await child.output();
  const seconds = (performance.now() - t0) / 1000;
  running = false;
  await sampler;
  const dec = new TextDecoder();
  const res = {
    seconds,
    peakRss: peak,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${out.code}:\n${
        res.stderr.trim().split("\n").slice(-8).join("\n")
      }`,
    );
  }
  return res;
}

/** `deno run -A mod.ts ARGS…`, measured. */
export function measureDz(
  args: string[],
  env: Record<string, string> = {},
): Promise<Measured> {
  return measure(Deno.execPath(), ["run", "--allow-all", "--quiet", "mod.ts", ...args], {
    env: { NO_COLOR: "1", ...env },
  });
}

/** Bytes as MiB with one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** A line: label, figure, and whether it meets its target. */
export function verdict(ok: boolean): string {
  return ok ? "target met" : "TARGET MISSED";
}

/** Parse `--size-mib N` (default 1024) and other `--name value` flags. */
export function parseFlags(args: string[]): { sizeMiB: number; keep: boolean } {
  let sizeMiB = 1024;
  let keep = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--size-mib") sizeMiB = Number(args[++i]);
    else if (args[i].startsWith("--size-mib=")) sizeMiB = Number(args[i].split("=")[1]);
    else if (args[i] === "--keep") keep = true;
    else throw new Error(`unknown argument ${args[i]} (use --size-mib N)`);
  }
  if (!Number.isFinite(sizeMiB) || sizeMiB < 4) throw new Error("--size-mib must be at least 4");
  return { sizeMiB, keep };
}

/** Sum of the sizes of the regular files under `dir`. */
export async function duBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) total += await duBytes(p);
    else if (e.isFile) total += (await Deno.lstat(p)).size;
  }
  return total;
}

/** Warm Deno's module cache so the first measured run does not pay for it. */
export async function warmUp(): Promise<void> {
  await measureDz(["--help"]);
}
