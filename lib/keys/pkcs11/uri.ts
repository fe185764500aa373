/**
 * PKCS#11 URIs (RFC 7512) naming a signing key on a token, read the way
 * `cosign sign --key pkcs11:…` reads them:
 *
 * `pkcs11:token=dz;slot-id=0;object=signing;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234`
 *
 * At least one of `token` / `slot-id` and one of `object` / `id` is
 * required; `module-path` falls back to `COSIGN_PKCS11_MODULE_PATH`. Unlike
 * cosign, every attribute given must match (cosign ignores `token` when
 * `slot-id` is set, and `object` when `id` is set), and path attributes this
 * tool cannot check are refused rather than ignored, so a URI never selects
 * a key it does not describe. Error messages never echo the URI: it may
 * carry the PIN.
 *
 * @module
 */

import { UsageError } from "../../errors/errors.ts";
import { readEnvExact } from "../../config/paths.ts";

/** Environment variable cosign reads the module path from when the URI has none. */
export const MODULE_PATH_ENV = "COSIGN_PKCS11_MODULE_PATH";

/** A parsed `pkcs11:` key reference. */
export interface Pkcs11Uri {
  /** Absolute path of the PKCS#11 module (shared library). */
  modulePath: string;
  /** `slot-id`: the slot number. */
  slotId?: bigint;
  /** `token`: the token label. */
  token?: string;
  /** `manufacturer`: the token's manufacturer ID. */
  manufacturer?: string;
  /** `model`: the token's model. */
  model?: string;
  /** `serial`: the token's serial number. */
  serial?: string;
  /** `object`: the key's `CKA_LABEL`, as bytes. */
  object?: Uint8Array;
  /** `id`: the key's `CKA_ID`, as bytes. */
  id?: Uint8Array;
  /** `pin-value`: the PIN given in the URI (a secret: never print it). */
  pinValue?: string;
  /** `pin-source`: a file (`file:` URI or absolute path) holding the PIN. */
  pinSource?: string;
}

/** Where {@linkcode parsePkcs11Uri} reads `COSIGN_PKCS11_MODULE_PATH`. */
export type EnvReader = (name: string) => string | undefined;

const PATH_ATTRS = new Set([
  "token",
  "slot-id",
  "object",
  "id",
  "type",
  "manufacturer",
  "model",
  "serial",
]);
const UNSUPPORTED_PATH_ATTRS = new Set([
  "library-description",
  "library-manufacturer",
  "library-version",
  "slot-description",
  "slot-manufacturer",
]);

/** Is `ref` a `pkcs11:` URI (scheme compared case-insensitively)? */
export function isPkcs11Uri(ref: string): boolean {
  return ref.slice(0, 7).toLowerCase() === "pkcs11:";
}

function bad(message: string): UsageError {
  return new UsageError(`invalid pkcs11: key URI: ${message}`, {
    hint: "use pkcs11:token=LABEL;object=KEY?module-path=/path/to/module.so (RFC 7512, as cosign)",
  });
}

/** RFC 3986 percent-decoding to raw bytes (`id` is binary). */
function percentDecode(value: string, name: string): Uint8Array {
  const utf8 = new TextEncoder().encode(value);
  const out: number[] = [];
  for (let i = 0; i < utf8.length; i++) {
    if (utf8[i] !== 0x25) {
      out.push(utf8[i]);
      continue;
    }
    const hex = String.fromCharCode(utf8[i + 1] ?? 0, utf8[i + 2] ?? 0);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw bad(`attribute '${name}' has a malformed %-escape`);
    out.push(parseInt(hex, 16));
    i += 2;
  }
  return new Uint8Array(out);
}

function percentDecodeText(value: string, name: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(percentDecode(value, name));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw bad(`attribute '${name}' is not valid UTF-8`);
  }
}

/** Split `a=1;b=2` into a name → raw value map, refusing repeats. */
function attributes(part: string, sep: string, where: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of part.split(sep)) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) {
      // Never echo a query item: it may be a PIN.
      throw bad(
        where === "path" ? `'${item}' is not NAME=VALUE` : "a query item is not NAME=VALUE",
      );
    }
    const name = item.slice(0, eq).toLowerCase();
    if (out.has(name)) throw bad(`attribute '${name}' appears twice`);
    out.set(name, item.slice(eq + 1));
  }
  return out;
}

/**
 * Parse a `pkcs11:` key URI.
 *
 * @param env reads `COSIGN_PKCS11_MODULE_PATH` (default: this process's, `readEnvExact`)
 * @throws {UsageError} for a malformed URI or a missing required attribute;
 *   the message never contains the PIN
 */
export function parsePkcs11Uri(uri: string, env: EnvReader = readEnvExact): Pkcs11Uri {
  if (!isPkcs11Uri(uri)) throw bad("it does not start with 'pkcs11:'");
  const rest = uri.slice(7);
  if (rest.includes("#")) throw bad("fragments (#) are not allowed");
  const q = rest.indexOf("?");
  const path = attributes(q < 0 ? rest : rest.slice(0, q), ";", "path");
  const query = attributes(q < 0 ? "" : rest.slice(q + 1), "&", "query");

  const result: Partial<Pkcs11Uri> = {};
  for (const [name, raw] of path) {
    if (UNSUPPORTED_PATH_ATTRS.has(name)) {
      throw bad(
        `attribute '${name}' is not supported here; select the token with token= or slot-id=`,
      );
    }
    if (!PATH_ATTRS.has(name) && !name.startsWith("x-")) {
      throw bad(`unknown path attribute '${name}'`);
    }
    switch (name) {
      case "token":
        result.token = percentDecodeText(raw, name);
        break;
      case "manufacturer":
        result.manufacturer = percentDecodeText(raw, name);
        break;
      case "model":
        result.model = percentDecodeText(raw, name);
        break;
      case "serial":
        result.serial = percentDecodeText(raw, name);
        break;
      case "slot-id": {
        const text = percentDecodeText(raw, name);
        if (!/^[0-9]{1,20}$/.test(text) || BigInt(text) > 0xffffffffffffffffn) {
          throw bad(`slot-id '${text}' is not a valid number`);
        }
        result.slotId = BigInt(text);
        break;
      }
      case "object":
        result.object = percentDecode(raw, name);
        break;
      case "id":
        result.id = percentDecode(raw, name);
        break;
      case "type": {
        const t = percentDecodeText(raw, name);
        if (t !== "private") throw bad(`type=${t} cannot sign; use type=private or leave it out`);
        break;
      }
    }
  }
  for (const [name, raw] of query) {
    switch (name) {
      case "module-path":
        result.modulePath = percentDecodeText(raw, name);
        break;
      case "module-name":
        throw bad("module-name is not supported; give module-path=/absolute/path/to/module.so");
      case "pin-value":
        // Decoding errors must not name the value; the generic message is fine.
        result.pinValue = percentDecodeText(raw, name);
        break;
      case "pin-source":
        result.pinSource = percentDecodeText(raw, name);
        break;
        // Other query attributes (vendor-specific) are ignored, as cosign does.
    }
  }
  if (result.pinValue !== undefined && result.pinSource !== undefined) {
    throw bad("give pin-value or pin-source, not both");
  }
  if (result.token === undefined && result.slotId === undefined) {
    throw bad("one of token= and slot-id= must be set");
  }
  if (!result.object?.length && !result.id?.length) {
    throw bad("one of object= and id= must be set");
  }
  if (!result.modulePath) {
    const fromEnv = env(MODULE_PATH_ENV);
    if (!fromEnv) {
      throw bad(`module-path= (or ${MODULE_PATH_ENV}) must name the PKCS#11 module`);
    }
    result.modulePath = fromEnv;
  }
  if (!result.modulePath.startsWith("/")) {
    throw bad(`module-path '${result.modulePath}' is not an absolute path`);
  }
  return result as Pkcs11Uri;
}

/** A printable description of the key a URI names, without any PIN. */
export function describePkcs11Key(uri: Pkcs11Uri): string {
  const parts: string[] = [];
  if (uri.object?.length) parts.push(`'${new TextDecoder().decode(uri.object)}'`);
  if (uri.id?.length) parts.push(`id ${hex(uri.id)}`);
  return `key ${parts.join(" ")}`;
}

/** A printable description of the token a URI names. */
export function describePkcs11Token(uri: Pkcs11Uri): string {
  const parts: string[] = [];
  if (uri.token !== undefined) parts.push(`'${uri.token}'`);
  if (uri.slotId !== undefined) parts.push(`in slot ${uri.slotId}`);
  return `token ${parts.join(" ")}`;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(":");
}
