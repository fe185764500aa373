/**
 * Progress reporting for long transfers. Library code calls a
 * {@linkcode Progress} hook; the command edge picks how it is shown:
 * `auto` (a redrawn line on a TTY, nothing otherwise), `plain` (one line
 * per step), `none`. Always on stderr, never on stdout.
 *
 * @module
 */

/** How progress is shown. */
export type ProgressMode = "auto" | "plain" | "none";

/** One transfer under way. */
export interface Transfer {
  /** Bytes done so far (monotonic). */
  advance(bytes: number): void;
  /** The transfer finished (successfully or not). */
  done(ok?: boolean): void;
}

/** The hook library code reports to. */
export interface Progress {
  /** Start a transfer of `total` bytes (or unknown) named `label`. */
  start(label: string, total?: number): Transfer;
  /** A one-line status note. */
  note(message: string): void;
}

const NOOP_TRANSFER: Transfer = { advance() {}, done() {} };

/** A {@linkcode Progress} that shows nothing. */
export const silentProgress: Progress = {
  start: () => NOOP_TRANSFER,
  note() {},
};

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

const encoder = new TextEncoder();

function writeErr(s: string): void {
  Deno.stderr.writeSync(encoder.encode(s));
}

/** Make the {@linkcode Progress} for a mode (output to stderr unless `write` is given). */
export function createProgress(
  mode: ProgressMode,
  write: (s: string) => void = writeErr,
  tty: boolean = Deno.stderr.isTerminal(),
): Progress {
  const writeErr = write;
  if (mode === "none" || (mode === "auto" && !tty)) return silentProgress;
  if (mode === "plain") {
    return {
      start(label, total) {
        writeErr(`${label}: started${total !== undefined ? ` (${formatBytes(total)})` : ""}\n`);
        let bytes = 0;
        return {
          advance(b) {
            bytes += b;
          },
          done(ok = true) {
            writeErr(`${label}: ${ok ? "done" : "failed"} (${formatBytes(bytes)})\n`);
          },
        };
      },
      note(message) {
        writeErr(`${message}\n`);
      },
    };
  }
  // auto on a TTY: one redrawn line per transfer, throttled.
  return {
    start(label, total) {
      let bytes = 0;
      let last = 0;
      const draw = (final: string | undefined) => {
        const pct = total ? ` ${Math.floor((bytes / total) * 100)}%` : "";
        const size = `${formatBytes(bytes)}${total ? ` / ${formatBytes(total)}` : ""}`;
        writeErr(`\r\x1b[2K${label}${pct} ${size}${final ? ` ${final}\n` : ""}`);
      };
      return {
        advance(b) {
          bytes += b;
          const now = Date.now();
          if (now - last > 100) {
            last = now;
            draw(undefined);
          }
        },
        done(ok = true) {
          draw(ok ? "done" : "failed");
        },
      };
    },
    note(message) {
      writeErr(`${message}\n`);
    },
  };
}
