/**
 * The host to name in a message about a response.
 *
 * @module
 */

import type { RegistryTransport } from "./transport.ts";

/**
 * The registry's name for a response from its own origin (or with no URL),
 * else the host that actually answered (a redirect's target).
 */
export function responseHost(res: Response, transport: RegistryTransport): string {
  const url = res.url ? new URL(res.url) : undefined;
  return !url || url.origin === transport.origin ? transport.registry : url.host;
}
