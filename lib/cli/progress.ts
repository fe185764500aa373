/**
 * Progress reporting for long transfers. Library code calls a
 * {@linkcode Progress} hook; the command edge picks how it is shown, always
 * on stderr, never on stdout:
 *
 * - `auto` on a terminal: one redrawn line aggregating the transfers of each
 *   phase under way (`fetch`, `verify`, `unpack`, `load`… — a transfer's
 *   phase is the first word of its label) with a bar, bytes, percent, speed
 *   and time left, cut to the terminal's width (`Deno.consoleSize`, redrawn
 *   on resize) so it never wraps; each phase ends on a clean summary line.
 * - `auto` off a terminal (or with `--json`): notes only.
 * - `plain`: a line when a phase starts, one every few seconds while it
 *   runs, one when it ends (for logs).
 * - `none`: nothing.
 *
 * Notes (a lock wait, "installing …") are printed in every mode but `none`.
 *
 * @module
 */

import {
  NOOP_TRANSFER,
  type Progress,
  type ProgressMode,
  silentProgress,
} from "../progress/progress.ts";

/** Human-readable byte count, e.g. `1.5 MiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A duration for "time left": `42 s`, `3 min 5 s`, `1 h 2 min`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

const encoder = new TextEncoder();

function writeErr(s: string): void {
  const data = encoder.encode(s);
  let off = 0;
  while (off < data.length) off += Deno.stderr.writeSync(data.subarray(off));
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 80;
  }
}

/** Options of {@linkcode createProgress} (tests set them). */
export interface ProgressOptions {
  /** Terminal width (default `Deno.consoleSize().columns`, 80 when unknown). */
  columns?: () => number;
  /** Clock in ms (default `performance.now`). */
  now?: () => number;
  /** `plain`: a line per phase this often (ms, default 5000). */
  plainIntervalMs?: number;
  /** `auto`: redraw at most this often (ms, default 150). */
  redrawMs?: number;
  /** Redraw on terminal resize (SIGWINCH; default true on a terminal). */
  watchResize?: boolean;
}

/** One phase's transfers (those started since it was last idle). */
class Phase {
  count = 0;
  finished = 0;
  failed = 0;
  bytes = 0;
  total = 0;
  unknownTotal = false;
  readonly samples: [number, number][] = [];
  constructor(readonly name: string, readonly started: number) {}

  get active(): number {
    return this.count - this.finished;
  }

  sample(t: number): void {
    this.samples.push([t, this.bytes]);
    while (this.samples.length > 2 && t - this.samples[0][0] > 5000) this.samples.shift();
  }

  /** Bytes per second over the last few seconds (0 before there is a measure). */
  speed(t: number): number {
    const first = this.samples[0];
    if (!first || t - first[0] < 250) {
      return t - this.started > 250 ? this.bytes / ((t - this.started) / 1000) : 0;
    }
    return (this.bytes - first[1]) / ((t - first[0]) / 1000);
  }

  /** `fetch 2/4 45% 120.0/260.0 MiB 19.8 MiB/s 7 s left` parts. */
  parts(t: number): { head: string; pct?: number; tail: string } {
    const head = `${this.name}${this.count > 1 ? ` ${this.finished}/${this.count}` : ""}`;
    const known = !this.unknownTotal && this.total > 0;
    const pct = known ? Math.min(100, Math.floor((this.bytes / this.total) * 100)) : undefined;
    const speed = this.speed(t);
    const tail = [
      pct !== undefined ? `${pct}%` : "",
      known ? `${formatBytes(this.bytes)}/${formatBytes(this.total)}` : formatBytes(this.bytes),
      speed > 0 ? `${formatBytes(speed)}/s` : "",
      known && speed > 0 ? `${formatDuration((this.total - this.bytes) / speed)} left` : "",
    ].filter(Boolean).join(" ");
    return { head, pct, tail };
  }

  summary(t: number): string {
    const secs = (t - this.started) / 1000;
    const what = this.count === 1 ? "1 item" : `${this.count} items`;
    const rate = secs > 0 && this.bytes > 0 ? `, ${formatBytes(this.bytes / secs)}/s` : "";
    const state = this.failed > 0 ? `failed (${this.failed} of ${what})` : `done, ${what}`;
    return `${this.name}: ${state}, ${formatBytes(this.bytes)} in ${secs.toFixed(1)} s${rate}`;
  }
}

/** Cut `s` to at most `width` characters (code points), marking the cut. */
export function fitWidth(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return chars.slice(0, Math.max(0, width)).join("");
  return `${chars.slice(0, width - 1).join("")}…`;
}

/** The redrawn line for the phases under way, at most `width` characters. */
export function renderLine(phases: readonly Phase[], t: number, width: number): string {
  const segments = phases.map((p) => {
    const { head, pct, tail } = p.parts(t);
    return { head, pct, tail };
  });
  const plain = segments.map((s) => `${s.head} ${s.tail}`).join(" | ");
  // A bar for the first phase, as wide as the room left allows (up to 24).
  const room = width - [...plain].length - 3;
  const first = segments[0];
  if (first && first.pct !== undefined && room >= 6) {
    const w = Math.min(24, room);
    const filled = Math.round((first.pct / 100) * w);
    const bar = `[${"#".repeat(filled)}${"-".repeat(w - filled)}]`;
    const line = [
      `${first.head} ${bar} ${first.tail}`,
      ...segments.slice(1).map((s) => `${s.head} ${s.tail}`),
    ].join(" | ");
    return fitWidth(line, width);
  }
  return fitWidth(plain, width);
}

/** Make the {@linkcode Progress} for a mode (output to stderr unless `write` is given). */
export function createProgress(
  mode: ProgressMode,
  write: (s: string) => void = writeErr,
  tty: boolean = Deno.stderr.isTerminal(),
  options: ProgressOptions = {},
): Progress {
  if (mode === "none") return silentProgress;
  if (mode === "auto" && !tty) {
    return { start: () => NOOP_TRANSFER, note: (m) => write(`${m}\n`) };
  }
  const now = options.now ?? performance.now.bind(performance);
  const columns = options.columns ?? terminalColumns;
  const phases = new Map<string, Phase>();
  const plain = mode === "plain";
  let drawn = false;
  let lastDraw = -Infinity;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let resizeHandler: (() => void) | undefined;

  const active = () => [...phases.values()].filter((p) => p.active > 0);
  const clear = () => {
    if (drawn) write("\r\x1b[2K");
    drawn = false;
  };
  const draw = (force = false) => {
    if (plain) return;
    const t = now();
    if (!force && t - lastDraw < (options.redrawMs ?? 150)) return;
    lastDraw = t;
    const list = active();
    if (list.length === 0) return clear();
    // One column less than the width: a line that fills it exactly wraps on some terminals.
    const width = Math.max(1, columns() - 1);
    write(`\r\x1b[2K${renderLine(list, t, width)}`);
    drawn = true;
  };
  const plainLine = () => {
    const t = now();
    for (const p of active()) {
      const { tail } = p.parts(t);
      write(`${p.name}: ${tail}${p.count > 1 ? ` (${p.finished}/${p.count} done)` : ""}\n`);
    }
  };
  const watch = () => {
    if (ticker !== undefined) return;
    if (plain) {
      ticker = setInterval(plainLine, options.plainIntervalMs ?? 5000);
    } else {
      // Redraw now and then even when nothing arrives (speed and time left change).
      ticker = setInterval(() => draw(true), 1000);
      if ((options.watchResize ?? true) && Deno.build.os !== "windows") {
        resizeHandler = () => draw(true);
        try {
          Deno.addSignalListener("SIGWINCH", resizeHandler);
        } catch {
          resizeHandler = undefined;
        }
      }
    }
    Deno.unrefTimer(ticker as unknown as number);
  };
  const unwatch = () => {
    if (ticker !== undefined) clearInterval(ticker);
    ticker = undefined;
    if (resizeHandler) {
      try {
        Deno.removeSignalListener("SIGWINCH", resizeHandler);
      } catch {
        // gone
      }
      resizeHandler = undefined;
    }
  };

  return {
    start(label, total) {
      const name = label.split(" ")[0] || label;
      let phase = phases.get(name);
      if (!phase || phase.active === 0) {
        phase = new Phase(name, now());
        phases.set(name, phase);
        if (plain) {
          write(`${label}${total ? ` (${formatBytes(total)})` : ""}: started\n`);
        }
      }
      const p = phase;
      p.count++;
      if (total && total > 0) p.total += total;
      else p.unknownTotal = true;
      watch();
      draw(true);
      let ended = false;
      return {
        advance(b) {
          if (ended || !(b > 0)) return;
          p.bytes += b;
          p.sample(now());
          draw();
        },
        done(ok = true) {
          if (ended) return;
          ended = true;
          p.finished++;
          if (!ok) p.failed++;
          if (p.active === 0) {
            clear();
            const line = p.summary(now());
            write(`${plain ? line : fitWidth(line, Math.max(1, columns() - 1))}\n`);
            phases.delete(p.name);
          }
          if (active().length === 0) unwatch();
          else draw(true);
        },
      };
    },
    note(message) {
      clear();
      write(`${message}\n`);
      draw(true);
    },
  };
}
