/**
 * A tar archive as one byte stream, for the archive writer: headers and
 * small files from memory, big files forwarded from their own (verified)
 * byte streams. A BYOB reader (the atomic file writer) gets every byte of a
 * blob straight into its own write buffer: nothing is allocated or copied
 * per chunk between the registry and the disk, so memory stays flat.
 *
 * Headers are POSIX ustar, as modern-tar writes them (the same bytes, a
 * test compares), with a pax `size` record for files of 8 GiB and more.
 *
 * @module
 */

import { byteStreamFrom, type IntoReader, intoReader } from "../fs/byte_stream.ts";

/** One member of the archive. */
export type TarPart =
  | { kind: "dir"; name: string; mtime: Date; mode?: number }
  | { kind: "bytes"; name: string; bytes: Uint8Array; mtime: Date; mode?: number }
  | {
    kind: "stream";
    name: string;
    size: number;
    mtime: Date;
    mode?: number;
    /** Opened when the member is reached; must yield exactly `size` bytes. */
    open(): Promise<ReadableStream<Uint8Array>>;
    /** Called once its bytes are all out (and the stream closed cleanly). */
    onDone?(): void;
  };

const encoder = new TextEncoder();
const OCTAL_SIZE_MAX = 0o77777777777;
const BLOCK = 512;

function writeString(block: Uint8Array, offset: number, size: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.byteLength > size) throw new RangeError(`tar field too long: '${value}'`);
  block.set(bytes, offset);
}

function writeOctal(block: Uint8Array, offset: number, size: number, value: number): void {
  writeString(block, offset, size - 1, value.toString(8).padStart(size - 1, "0"));
}

function ustar(name: string, size: number, type: "0" | "5" | "x", mode: number, mtime: Date) {
  const block = new Uint8Array(BLOCK);
  if (encoder.encode(name).byteLength > 100) throw new RangeError(`tar name too long: ${name}`);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size > OCTAL_SIZE_MAX ? 0 : size);
  writeOctal(block, 136, 12, Math.floor(mtime.getTime() / 1000));
  writeString(block, 156, 1, type);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 7, sum.toString(8).padStart(6, "0") + "\0");
  return block;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (`${len}${body}`.length !== len) len = `${len}${body}`.length;
  return `${len}${body}`;
}

/** The header block(s) of a member: ustar, preceded by a pax `size` record when it needs one. */
export function tarHeader(
  name: string,
  size: number,
  type: "file" | "directory",
  mode: number,
  mtime: Date,
): Uint8Array {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad tar size ${size}`);
  const base = ustar(name, size, type === "file" ? "0" : "5", mode, mtime);
  if (size <= OCTAL_SIZE_MAX) return base;
  const pax = encoder.encode(paxRecord("size", String(size)));
  const paxName = `PaxHeader/${name}`.slice(0, 100);
  const head = ustar(paxName, pax.byteLength, "x", 0o644, mtime);
  const out = new Uint8Array(BLOCK + padded(pax.byteLength) + BLOCK);
  out.set(head, 0);
  out.set(pax, BLOCK);
  out.set(base, BLOCK + padded(pax.byteLength));
  return out;
}

function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** Bytes written after the last member (two zero blocks). */
const END = new Uint8Array(2 * BLOCK);

/**
 * The tar of `parts`, in order, as a byte stream. A `stream` member that
 * errors, or ends with more or fewer bytes than its `size`, errors the
 * whole archive stream (its writer then keeps nothing). `signal` aborts it.
 */
export function tarStream(
  parts: Iterable<TarPart>,
  signal?: AbortSignal,
): ReadableStream<Uint8Array> {
  const it = parts[Symbol.iterator]();
  /** Bytes from memory waiting to go out. */
  let pending: Uint8Array = new Uint8Array(0);
  /** The member being forwarded. */
  let current:
    | { reader: IntoReader; left: number; part: Extract<TarPart, { kind: "stream" }> }
    | undefined;
  let finished = false;

  const advance = async (): Promise<boolean> => {
    // Fill `pending` or `current` from the next member; false at the very end.
    const next = it.next();
    if (next.done) {
      if (finished) return false;
      finished = true;
      pending = END;
      return true;
    }
    const part = next.value;
    const mode = part.mode ?? (part.kind === "dir" ? 0o755 : 0o644);
    if (part.kind === "dir") {
      pending = tarHeader(part.name, 0, "directory", mode, part.mtime);
    } else if (part.kind === "bytes") {
      const header = tarHeader(part.name, part.bytes.byteLength, "file", mode, part.mtime);
      const out = new Uint8Array(header.byteLength + padded(part.bytes.byteLength));
      out.set(header, 0);
      out.set(part.bytes, header.byteLength);
      pending = out;
    } else {
      pending = tarHeader(part.name, part.size, "file", mode, part.mtime);
      current = { reader: intoReader(await part.open()), left: part.size, part };
    }
    return true;
  };

  return byteStreamFrom(async (view) => {
    for (;;) {
      signal?.throwIfAborted();
      if (pending.byteLength > 0) {
        const n = Math.min(view.byteLength, pending.byteLength);
        view.set(pending.subarray(0, n));
        pending = pending.subarray(n);
        return { done: false, value: view.subarray(0, n) };
      }
      if (current) {
        const c = current;
        const length = view.byteLength; // `view` is detached once read into
        const room = c.left > 0 ? view.subarray(0, Math.min(view.byteLength, c.left)) : view;
        const got = await c.reader.read(room);
        if (!got.done) {
          c.left -= got.value.byteLength;
          if (c.left < 0) {
            throw new RangeError(`${c.part.name}: more than its ${c.part.size} bytes`);
          }
          // The view handed back sits on the transferred buffer of `view`.
          return { done: false, value: got.value };
        }
        if (c.left !== 0) {
          throw new RangeError(`${c.part.name}: ${c.part.size - c.left} of ${c.part.size} bytes`);
        }
        current = undefined;
        c.part.onDone?.();
        pending = new Uint8Array(padded(c.part.size) - c.part.size);
        // `view`'s buffer went to the reader and came back in `got`.
        view = new Uint8Array(got.value.buffer, got.value.byteOffset, length);
        continue;
      }
      if (!await advance()) return { done: true, value: view.subarray(0, 0) };
    }
  }, async (reason) => {
    await current?.reader.cancel(reason).catch(() => {});
  });
}
