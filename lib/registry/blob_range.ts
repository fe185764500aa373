/**
 * The tail of a blob from an offset, for a resumed download.
 *
 * @module
 */

import { RegistryError } from "../errors/errors.ts";
import { parseDigest } from "../digest/digest.ts";
import type { Descriptor } from "../oci/media_types.ts";
import type { RegistryTransport } from "./transport.ts";
import { blobPace, paceGuard } from "./body_guard.ts";
import { responseHost } from "./response_host.ts";

/**
 * The bytes of a blob from `offset` on, for a resumed download: a
 * `Range: bytes=<offset>-` request (none from 0). A registry that
 * honours it answers 206 with `Content-Range: bytes <offset>-<size-1>/<size>`
 * (anything else is refused); one that ignores it answers 200 with the
 * whole blob, and `start` is then 0. The body is bounded in pace like
 * {@linkcode RegistryClient.getBlob}'s, but NOT verified: the caller hashes the prefix
 * it holds plus these bytes, and checks the digest at the end.
 * @throws RegistryError for a 206 whose range or length is not the one asked for
 */
export async function getBlobFrom(
  transport: RegistryTransport,
  repository: string,
  descriptor: Pick<Descriptor, "digest" | "size">,
  offset: number,
): Promise<{ start: number; body: ReadableStream<Uint8Array> }> {
  parseDigest(descriptor.digest);
  const size = descriptor.size;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size) {
    throw new RangeError(`blob ${descriptor.digest}: no bytes from offset ${offset} of ${size}`);
  }
  const res = await transport.request({
    path: `/v2/${repository}/blobs/${descriptor.digest}`,
    scopes: [`repository:${repository}:pull`],
    ...(offset > 0 ? { headers: { range: `bytes=${offset}-` } } : {}),
    accept: [200, 206],
  });
  const host = responseHost(res, transport);
  const refuse = async (why: string) => {
    await res.body?.cancel().catch(() => {});
    return new RegistryError(
      res.status,
      `${host}: blob ${descriptor.digest}: ${why}; refused`,
      { hint: "the registry or a proxy on the way is broken; retry later or elsewhere" },
    );
  };
  let start = 0;
  if (res.status === 206) {
    const range = res.headers.get("content-range") ?? "";
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(range.trim());
    if (
      !m || Number(m[1]) !== offset || Number(m[2]) !== size - 1 ||
      (m[3] !== "*" && Number(m[3]) !== size)
    ) {
      throw await refuse(
        `asked for bytes ${offset}-${size - 1} of ${size}, got Content-Range '${
          range.slice(0, 80)
        }'`,
      );
    }
    start = offset;
  }
  const declared = res.headers.get("content-length");
  if (declared !== null && Number(declared) !== size - start) {
    throw await refuse(`sends ${declared} bytes from ${start}, descriptor says ${size} in all`);
  }
  if (!res.body) throw await refuse("empty response");
  const body = paceGuard(res.body, blobPace(transport.timings, host, `blob ${descriptor.digest}`));
  return { start, body };
}
