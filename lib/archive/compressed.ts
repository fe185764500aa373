/**
 * A compressed file given where a plain tar archive is expected.
 *
 * @module
 */

import { UsageError } from "../errors/errors.ts";

const COMPRESSED: [string, number[]][] = [
  ["gzip", [0x1f, 0x8b]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["bzip2", [0x42, 0x5a, 0x68]],
];

/**
 * A compressed file is not an archive (Dangerzone's is a plain tar): a
 * usage error naming the fix, not a tar parser's complaint.
 * @throws UsageError (exit 2)
 */
export async function refuseCompressed(path: string): Promise<void> {
  let head = new Uint8Array(0);
  try {
    using f = await Deno.open(path, { read: true });
    const buf = new Uint8Array(6);
    const n = await f.read(buf);
    head = buf.subarray(0, n ?? 0);
  } catch {
    return; // the reader reports it
  }
  for (const [kind, magic] of COMPRESSED) {
    if (magic.every((b, i) => head[i] === b)) {
      const tool = kind === "gzip" ? "gunzip -k" : `${kind} -dk`;
      throw new UsageError(`${path} is ${kind}-compressed, not a plain tar archive`, {
        hint: `decompress it first (e.g. ${tool} ${path}) and pass the .tar`,
      });
    }
  }
}
