/**
 * `--proxy`: check the URL (http://, https://, socks5:// or socks5h://) and
 * build the HTTP client every request of one transport goes through. A
 * proxy password never appears in an error.
 *
 * @module
 */

import { UsageError } from "../errors/errors.ts";
import { redactUrlValue, redactUserinfo } from "./redact.ts";

/** The HTTP client for `proxy`, or a {@linkcode UsageError} naming what is wrong with it. */
export function proxyClient(proxy: string): Deno.HttpClient {
  const shown = redactUrlValue(proxy);
  let url: URL;
  try {
    url = new URL(proxy);
  } catch {
    throw new UsageError(`--proxy '${shown}' is not a URL`, {
      hint: "e.g. socks5h://127.0.0.1:9050 or http://user:password@proxy:3128",
    });
  }
  if (!["http:", "https:", "socks5:", "socks5h:"].includes(url.protocol)) {
    throw new UsageError(`--proxy must be http://, https:// or socks5h://, not '${shown}'`);
  }
  try {
    return Deno.createHttpClient({ proxy: { url: proxy } });
  } catch (e) {
    throw new UsageError(
      `--proxy '${shown}' cannot be used: ${redactUserinfo((e as Error).message)}`,
    );
  }
}
