/**
 * Tails: every request goes through Tor's SOCKS port, as Dangerzone does
 * there. Tails is told by `/etc/os-release` (`ID=tails`, or a `NAME`
 * naming Tails). The proxy is `socks5h://` (names resolved by Tor, never
 * locally) with a random SOCKS username per run: Tor's `IsolateSOCKSAuth`
 * (on by default) then keeps this run's streams on circuits of their own.
 *
 * @module
 */

/** Tor's SOCKS port on Tails. */
export const TOR_SOCKS_PORT = 9050;

/** Where the OS names itself. */
const OS_RELEASE_PATH = "/etc/os-release";

/** The value of `KEY=` in os-release content (quotes removed), or undefined. */
function osReleaseField(content: string, key: string): string | undefined {
  for (const raw of content.split("\n")) {
    const line = raw.trim();
    if (!line.startsWith(`${key}=`)) continue;
    let v = line.slice(key.length + 1).trim();
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0]) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

/** Does this os-release content describe Tails? */
export function isTails(osRelease: string | undefined): boolean {
  if (!osRelease) return false;
  if (osReleaseField(osRelease, "ID")?.toLowerCase() === "tails") return true;
  return /tails/i.test(osReleaseField(osRelease, "NAME") ?? "");
}

/**
 * `/etc/os-release`, or undefined when absent or when this process may not
 * read it (no prompt: without the permission, the machine is taken as not
 * Tails; give `--allow-read=/etc/os-release` on Tails).
 */
export function readOsRelease(path = OS_RELEASE_PATH): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** A fresh random SOCKS username (128 bits, hex). */
export function randomTorUsername(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `socks5h://<username>:<username>@127.0.0.1:<port>`: Tor's SOCKS port with isolation credentials. */
export function torProxyUrl(username: string, port = TOR_SOCKS_PORT): string {
  return `socks5h://${username}:${username}@127.0.0.1:${port}`;
}
