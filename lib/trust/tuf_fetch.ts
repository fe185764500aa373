/**
 * How tuf-js gets its files. {@linkcode httpTufFetcher} sends every request
 * through the registry transport (so `--proxy`, `HTTPS_PROXY` / `ALL_PROXY`,
 * redirect rules, timeouts and `--debug` logs apply as to every other
 * request; no credentials are ever attached); {@linkcode filesTufFetcher}
 * serves a chain carried in an archive or read from the cache, so the very
 * same TUF client verifies it with no network at all. Both refuse a file
 * longer than tuf-js's limit for it before buffering it.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Fetcher } from "../npm/tuf_js.ts";
import { DownloadHTTPError, DownloadLengthMismatchError } from "../npm/tuf_js_errors.ts";
import { readAllLimited } from "../fs/read_limited.ts";
import { RegistryTransport } from "../registry/transport.ts";
import { TRUSTED_ROOT_TARGET } from "./tuf_anchor.ts";

/** A tuf-js fetcher that never writes temporary files (bytes only). */
abstract class BytesFetcher implements Fetcher {
  abstract downloadBytes(url: string, maxLength: number): Promise<Buffer>;

  async downloadFile<T>(
    url: string,
    maxLength: number,
    handler: (file: string) => Promise<T>,
  ): Promise<T> {
    const bytes = await this.downloadBytes(url, maxLength);
    const file = await Deno.makeTempFile({ prefix: "dz-tuf-" });
    try {
      await Deno.writeFile(file, bytes);
      return await handler(file);
    } finally {
      await Deno.remove(file).catch(() => {});
    }
  }
}

/** Options of {@linkcode httpTufFetcher}. */
export interface HttpTufOptions {
  /** `--proxy` (default: none). */
  proxy?: string;
  /** `--debug` request log. */
  debug?: (line: string) => void;
  /** Counts requests (tests). */
  onRequest?: (method: string, url: string) => void;
  /** Milliseconds to wait for response headers (default 15 000). */
  timeoutMs?: number;
}

/** A fetcher for the TUF repository at `url`, through the registry transport. */
export function httpTufFetcher(url: string, options: HttpTufOptions = {}): Fetcher & {
  close(): void;
} {
  const transport = new RegistryTransport(new URL(url).host, {
    proxy: options.proxy,
    debug: options.debug,
    onRequest: options.onRequest,
    timeoutMs: options.timeoutMs ?? 15_000,
    retries: 1,
    retryBaseMs: 200,
  });
  return new class extends BytesFetcher {
    async downloadBytes(fileUrl: string, maxLength: number): Promise<Buffer> {
      const res = await transport.request({ path: fileUrl, accept: [200, 403, 404] });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel();
        throw new DownloadHTTPError(`${fileUrl}: HTTP ${res.status}`, res.status);
      }
      const bytes = await readAllLimited(
        res.body,
        maxLength,
        () => new DownloadLengthMismatchError(`${fileUrl} is longer than ${maxLength} bytes`),
      );
      return Buffer.from(bytes);
    }
    close() {
      transport.close();
    }
  }();
}

/** Name of a chain file in the cache and the archive, for a URL tuf-js asks for. */
function chainFileFor(fileUrl: string): string | undefined {
  const path = new URL(fileUrl).pathname;
  const base = path.slice(path.lastIndexOf("/") + 1);
  if (/\/targets\/[^/]+$/.test(path)) {
    const m = /^(?:[0-9a-f]{64,128}\.)?(.+)$/.exec(base);
    return m && decodeURIComponent(m[1]) === TRUSTED_ROOT_TARGET ? TRUSTED_ROOT_TARGET : undefined;
  }
  if (/^[1-9][0-9]*\.root\.json$/.test(base) || base === "timestamp.json") return base;
  const m = /^(?:[1-9][0-9]*\.)?(snapshot|targets)\.json$/.exec(base);
  return m ? `${m[1]}.json` : undefined;
}

/**
 * A fetcher serving a chain held in memory (`N.root.json`, `timestamp.json`,
 * `snapshot.json`, `targets.json`, `trusted_root.json`); anything else is a
 * 404, which tuf-js reads as "no newer root" for root versions.
 */
export function filesTufFetcher(files: ReadonlyMap<string, Uint8Array>): Fetcher {
  return new class extends BytesFetcher {
    downloadBytes(fileUrl: string, maxLength: number): Promise<Buffer> {
      const name = chainFileFor(fileUrl);
      const bytes = name === undefined ? undefined : files.get(name);
      if (!bytes) return Promise.reject(new DownloadHTTPError(`${name ?? fileUrl}: absent`, 404));
      if (bytes.byteLength > maxLength) {
        return Promise.reject(
          new DownloadLengthMismatchError(`${name} is longer than ${maxLength} bytes`),
        );
      }
      return Promise.resolve(Buffer.from(bytes));
    }
  }();
}
