/**
 * Where a token's PIN comes from, in this order: `pin-value=` in the URI,
 * the file named by `pin-source=`, the `COSIGN_PKCS11_PIN` environment
 * variable (as cosign), and, only if the token requires a login, an
 * echo-less prompt on the terminal. The PIN never reaches output, errors
 * or logs.
 *
 * @module
 */

import { IoError, PasswordUnavailableError, UsageError } from "../../errors/errors.ts";
import { promptHidden, type TerminalInput } from "../password.ts";
import type { Pkcs11Uri } from "./uri.ts";
import { describePkcs11Key, describePkcs11Token } from "./uri.ts";
import { readEnvExact } from "../../config/paths.ts";

/** Environment variable cosign reads the token PIN from. */
export const PIN_ENV = "COSIGN_PKCS11_PIN";

/** Where {@linkcode resolvePin} looks; defaults to the real process. */
export interface PinSources {
  /** Reads an environment variable (default: this process's, `readEnvExact`). */
  env?: (name: string) => string | undefined;
  /** The terminal to prompt on (default `Deno.stdin`). */
  input?: TerminalInput;
  /** Writes prompt text, no newline added (default: stderr). */
  prompt?: (text: string) => void;
}

const MAX_PIN_FILE = 4096;

function stderrPrompt(text: string): void {
  const data = new TextEncoder().encode(text);
  let off = 0;
  while (off < data.length) off += Deno.stderr.writeSync(data.subarray(off));
}

/** The path a `pin-source` names: a `file:` URI or an absolute path. */
export function pinSourcePath(source: string): string {
  let path = source;
  if (source.toLowerCase().startsWith("file:")) {
    path = source.slice(5);
    if (path.startsWith("//")) {
      // file://host/path: only an empty host (or localhost) is local.
      const slash = path.indexOf("/", 2);
      const host = slash < 0 ? path.slice(2) : path.slice(2, slash);
      if (host !== "" && host !== "localhost") {
        throw new UsageError(`pin-source ${source} is not a local file`);
      }
      path = slash < 0 ? "" : path.slice(slash);
    }
  }
  if (!path.startsWith("/")) {
    throw new UsageError(`pin-source '${source}' must be a file: URI or an absolute path`);
  }
  return path;
}

async function readPinFile(source: string): Promise<string> {
  const path = pinSourcePath(source);
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile || info.size > MAX_PIN_FILE) {
      throw new UsageError(`pin-source ${path} is not a small regular file`);
    }
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // Only the path is named, never contents.
    throw new IoError(`cannot read the PIN file ${path} (pin-source)`, {
      hint: e instanceof Deno.errors.NotFound ? "check the path" : "check its permissions",
    });
  }
  try {
    return new TextDecoder().decode(bytes).replace(/\r?\n$/, "");
  } finally {
    bytes.fill(0);
  }
}

/**
 * The PIN to log in with, or `undefined` when none is given and the token
 * does not require a login.
 *
 * @param loginRequired the token's `CKF_LOGIN_REQUIRED` flag
 * @throws {PasswordUnavailableError} when a PIN is required and there is no
 *   terminal to ask on
 */
export async function resolvePin(
  uri: Pkcs11Uri,
  loginRequired: boolean,
  sources: PinSources = {},
): Promise<string | undefined> {
  if (uri.pinValue !== undefined) return uri.pinValue;
  if (uri.pinSource !== undefined) return await readPinFile(uri.pinSource);
  const env = sources.env ?? readEnvExact;
  const fromEnv = env(PIN_ENV);
  if (fromEnv) return fromEnv;
  if (!loginRequired) return undefined;
  const input = sources.input ?? Deno.stdin;
  if (!input.isTerminal()) {
    throw new PasswordUnavailableError(
      `the PKCS#11 ${describePkcs11Token(uri)} needs a PIN and there is no terminal to ask on`,
      { hint: `set ${PIN_ENV}, or add pin-source=file:/path to the URI` },
    );
  }
  const prompt = sources.prompt ?? stderrPrompt;
  return await promptHidden(
    input,
    prompt,
    `Enter PIN for ${describePkcs11Key(uri)} in PKCS11 ${describePkcs11Token(uri)}: `,
  );
}
