/**
 * `WWW-Authenticate` challenge parsing (RFC 7235 auth-params), e.g.
 * `Bearer realm="https://auth/token",service="registry",scope="repository:a:pull"`.
 *
 * @module
 */

/** One parsed challenge. */
export interface Challenge {
  /** Lower-cased scheme: `bearer`, `basic`, … */
  scheme: string;
  /** Parameters with lower-cased names. */
  params: Record<string, string>;
}

/** Parse a `WWW-Authenticate` header value into its challenges. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i])) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipWs();
    while (i < n && header[i] === ",") {
      i++;
      skipWs();
    }
    const scheme = token();
    if (!scheme) break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    skipWs();
    // auth-params: name=value pairs separated by commas, until the next scheme.
    while (i < n) {
      const save = i;
      skipWs();
      const name = token();
      skipWs();
      if (!name || header[i] !== "=") {
        i = save;
        break;
      }
      i++;
      skipWs();
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i++];
        }
        i++;
      } else {
        // Lenient: registries send unquoted URLs; take up to the next comma or space.
        const start = i;
        while (i < n && header[i] !== "," && header[i] !== " " && header[i] !== "\t") i++;
        value = header.slice(start, i);
      }
      challenge.params[name.toLowerCase()] = value;
      skipWs();
      if (header[i] === ",") i++;
    }
  }
  return out;
}
