/**
 * Keep secrets out of messages: the user-info part of URLs (a proxy's
 * `user:password@`) is replaced by `***` in anything shown to users,
 * whether or not the URL parses.
 *
 * @module
 */

/**
 * A URL given by the user (e.g. `--proxy`), parsable or not, with
 * everything between its scheme and its last `@` redacted.
 */
export function redactUrlValue(value: string): string {
  const at = value.lastIndexOf("@");
  if (at === -1) return value;
  const scheme = value.match(/^[a-z][a-z0-9+.-]*:\/\//i)?.[0] ?? "";
  return `${scheme}***${value.slice(at)}`;
}

/** `text` with the user-info of every `scheme://user:pass@` in it redacted. */
export function redactUserinfo(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, "$1***@");
}
