/**
 * A {@linkcode Signer} over an EC P-256 key on a PKCS#11 token (the
 * `cosign sign --key pkcs11:…` / `--sk` step), so `sign` works unchanged
 * with hardware tokens and SoftHSM.
 *
 * Every token operation is one synchronous pass: load the module, find the
 * token and key, act, log out, close, finalize and unload. Nothing stays
 * open between passes (the `Signer` interface has no close), and no two
 * passes can interleave in the event loop. The token hashes nothing: the
 * SHA-256 digest is computed here and the token signs it with `CKM_ECDSA`;
 * the raw `r || s` is DER-encoded as cosign stores it and checked against
 * the token's public key before it is returned.
 *
 * @module
 */

import { createHash, type KeyObject, verify as nodeVerify } from "node:crypto";
import { Buffer } from "node:buffer";
import { Pkcs11Error } from "../../errors/errors.ts";
import { publicKeyPem } from "../private_key.ts";
import type { Signer } from "../signer.ts";
import {
  CKA_CLASS,
  CKA_EC_PARAMS,
  CKA_EC_POINT,
  CKA_ID,
  CKA_KEY_TYPE,
  CKA_LABEL,
  CKF_LOGIN_REQUIRED,
  CKF_USER_PIN_LOCKED,
  CKK_EC,
  CKO_PRIVATE_KEY,
  CKO_PUBLIC_KEY,
} from "./constants.ts";
import { ecdsaRawToDer, ecPublicKey } from "./ec_key.ts";
import { type Attribute, Pkcs11Module, readUlong, type TokenInfo, ulongBytes } from "./module.ts";
import { PIN_ENV, type PinSources, resolvePin } from "./pin.ts";
import {
  describePkcs11Key,
  describePkcs11Token,
  type EnvReader,
  parsePkcs11Uri,
  type Pkcs11Uri,
} from "./uri.ts";

/** Options of {@linkcode signerFromPkcs11Uri}. */
export interface Pkcs11SignerOptions {
  /** Where the PIN may come from when the URI has none. */
  pins?: PinSources;
  /** Reads `COSIGN_PKCS11_MODULE_PATH` (default: this process's, `readEnvExact`). */
  env?: EnvReader;
}

function tokenMatches(uri: Pkcs11Uri, info: TokenInfo): boolean {
  return (uri.token === undefined || uri.token === info.label) &&
    (uri.manufacturer === undefined || uri.manufacturer === info.manufacturer) &&
    (uri.model === undefined || uri.model === info.model) &&
    (uri.serial === undefined || uri.serial === info.serial);
}

/** The one slot whose token the URI names. */
function findSlot(m: Pkcs11Module, uri: Pkcs11Uri): { slot: bigint; info: TokenInfo } {
  const slots = m.slots();
  const candidates = uri.slotId === undefined ? slots : slots.filter((s) => s === uri.slotId);
  const matches = candidates
    .map((slot) => ({ slot, info: m.tokenInfo(slot) }))
    .filter((c) => tokenMatches(uri, c.info));
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) {
    const labels = slots.map((s) => `'${m.tokenInfo(s).label}' (slot ${s})`);
    throw new Pkcs11Error(`no PKCS#11 ${describePkcs11Token(uri)} found`, {
      hint: labels.length
        ? `the module has: ${labels.join(", ")}; check token= / slot-id= in the URI`
        : "the module reports no token: is it plugged in / initialised?",
    });
  }
  throw new Pkcs11Error(`${matches.length} tokens match the PKCS#11 ${describePkcs11Token(uri)}`, {
    hint: "add slot-id= or serial= to the URI",
  });
}

/** Run `fn` with the module loaded; always finalizes and unloads. */
function withModule<T>(uri: Pkcs11Uri, fn: (m: Pkcs11Module) => T): T {
  const m = Pkcs11Module.load(uri.modulePath);
  try {
    return fn(m);
  } finally {
    m.close();
  }
}

function login(m: Pkcs11Module, session: bigint, pin: Uint8Array, uri: Pkcs11Uri): void {
  try {
    m.login(session, pin);
  } catch (e) {
    if (!(e instanceof Pkcs11Error)) throw e;
    const token = describePkcs11Token(uri);
    switch (e.rv) {
      case "CKR_PIN_INCORRECT":
      case "CKR_PIN_INVALID":
      case "CKR_PIN_LEN_RANGE":
        throw new Pkcs11Error(`the PKCS#11 ${token} refused the PIN (${e.rv})`, {
          rv: e.rv,
          hint: "check the PIN; repeated wrong PINs lock the token",
        });
      case "CKR_PIN_LOCKED":
        throw new Pkcs11Error(`the PIN of the PKCS#11 ${token} is locked`, {
          rv: e.rv,
          hint: "unlock it with the token's SO PIN / PUK",
        });
      case "CKR_PIN_EXPIRED":
        throw new Pkcs11Error(`the PIN of the PKCS#11 ${token} has expired`, {
          rv: e.rv,
          hint: "set a new PIN with the token's tools",
        });
      default:
        throw new Pkcs11Error(`cannot log in to the PKCS#11 ${token} (${e.rv ?? "error"})`, {
          rv: e.rv,
          cause: e,
        });
    }
  }
}

/** A session on the URI's token, logged in when a PIN is given. */
function withSession<T>(
  uri: Pkcs11Uri,
  pin: Uint8Array | undefined,
  fn: (m: Pkcs11Module, session: bigint) => T,
): T {
  return withModule(uri, (m) => {
    const { slot } = findSlot(m, uri);
    const session = m.openSession(slot);
    try {
      if (pin === undefined) return fn(m, session);
      login(m, session, pin, uri);
      try {
        return fn(m, session);
      } finally {
        m.logout(session);
      }
    } finally {
      m.closeSession(session);
    }
  });
}

function keyTemplate(uri: Pkcs11Uri, cls: bigint): Attribute[] {
  const t: Attribute[] = [{ type: CKA_CLASS, value: ulongBytes(cls) }];
  if (uri.id?.length) t.push({ type: CKA_ID, value: uri.id });
  if (uri.object?.length) t.push({ type: CKA_LABEL, value: uri.object });
  return t;
}

/** The one object of class `cls` the URI names. */
function findOne(
  m: Pkcs11Module,
  session: bigint,
  uri: Pkcs11Uri,
  cls: bigint,
  loggedIn: boolean,
): bigint {
  const found = m.findObjects(session, keyTemplate(uri, cls));
  const what = cls === CKO_PRIVATE_KEY ? "private" : "public";
  if (found.length === 1) return found[0];
  if (found.length === 0) {
    throw new Pkcs11Error(
      `no ${what} ${describePkcs11Key(uri)} on the PKCS#11 ${describePkcs11Token(uri)}`,
      {
        hint: cls === CKO_PRIVATE_KEY && !loggedIn
          ? `private keys may only be visible after login: set ${PIN_ENV}`
          : "check object= / id= in the URI (list keys with 'pkcs11-tool --list-objects')",
      },
    );
  }
  throw new Pkcs11Error(
    `${found.length} ${what} keys match ${describePkcs11Key(uri)} on the PKCS#11 ${
      describePkcs11Token(uri)
    }`,
    { hint: "name exactly one key: give both object= and id=" },
  );
}

/** Find the private key, check it is EC, and read its public half. */
function readPublicKey(m: Pkcs11Module, session: bigint, uri: Pkcs11Uri, loggedIn: boolean) {
  const priv = findOne(m, session, uri, CKO_PRIVATE_KEY, loggedIn);
  const keyType = m.attribute(session, priv, CKA_KEY_TYPE);
  if (keyType === undefined || readUlong(keyType) !== CKK_EC) {
    throw new Pkcs11Error(`the PKCS#11 ${describePkcs11Key(uri)} is not an EC key`, {
      hint: "only ECDSA P-256 keys can sign",
    });
  }
  const pub = findOne(m, session, uri, CKO_PUBLIC_KEY, loggedIn);
  const params = m.attribute(session, pub, CKA_EC_PARAMS) ??
    m.attribute(session, priv, CKA_EC_PARAMS);
  const point = m.attribute(session, pub, CKA_EC_POINT);
  if (!params || !point) {
    throw new Pkcs11Error(
      `the public PKCS#11 ${describePkcs11Key(uri)} lacks CKA_EC_PARAMS / CKA_EC_POINT`,
    );
  }
  return ecPublicKey(params, point);
}

/** A {@linkcode Signer} whose private key stays on a PKCS#11 token. */
class Pkcs11Signer implements Signer {
  readonly #uri: Pkcs11Uri;
  readonly #pin: Uint8Array | undefined;
  readonly #publicKey: KeyObject;
  readonly #publicPem: string;

  private constructor(uri: Pkcs11Uri, pin: Uint8Array | undefined, publicKey: KeyObject) {
    this.#uri = uri;
    this.#pin = pin;
    this.#publicKey = publicKey;
    this.#publicPem = publicKeyPem(publicKey);
  }

  /**
   * Find the key a parsed URI names, log in and read its public key.
   *
   * @throws {Pkcs11Error} for a missing module, token or key, a wrong PIN,
   *   missing FFI permission, or a key that is not ECDSA P-256
   * @throws {PasswordUnavailableError} when a PIN is needed and cannot be asked for
   */
  static async open(uri: Pkcs11Uri, pins: PinSources = {}): Promise<Pkcs11Signer> {
    const info = withModule(uri, (m) => findSlot(m, uri).info);
    if ((info.flags & CKF_USER_PIN_LOCKED) !== 0n) {
      throw new Pkcs11Error(`the PIN of the PKCS#11 ${describePkcs11Token(uri)} is locked`, {
        rv: "CKR_PIN_LOCKED",
        hint: "unlock it with the token's SO PIN / PUK",
      });
    }
    const pinText = await resolvePin(uri, (info.flags & CKF_LOGIN_REQUIRED) !== 0n, pins);
    const pin = pinText === undefined ? undefined : new TextEncoder().encode(pinText);
    const publicKey = withSession(
      uri,
      pin,
      (m, session) => readPublicKey(m, session, uri, pin !== undefined),
    );
    return new Pkcs11Signer(uri, pin, publicKey);
  }

  publicKeyPem(): string {
    return this.#publicPem;
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    try {
      const hash = new Uint8Array(createHash("sha256").update(data).digest());
      const raw = withSession(this.#uri, this.#pin, (m, session) => {
        const key = findOne(m, session, this.#uri, CKO_PRIVATE_KEY, this.#pin !== undefined);
        return m.signEcdsa(session, key, hash);
      });
      const der = ecdsaRawToDer(raw);
      if (!nodeVerify("sha256", Buffer.from(data), this.#publicKey, Buffer.from(der))) {
        throw new Pkcs11Error(
          `the PKCS#11 ${
            describePkcs11Key(this.#uri)
          }'s signature does not verify against its public key`,
          { hint: "the token's public and private key objects do not match" },
        );
      }
      return Promise.resolve(der);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/**
 * The signer for a `pkcs11:` key URI (see `./uri.ts` for the syntax).
 *
 * @throws {UsageError} for a malformed URI
 * @throws {Pkcs11Error} when the token or key cannot be used (see {@linkcode Pkcs11Signer.open})
 */
export function signerFromPkcs11Uri(
  ref: string,
  options: Pkcs11SignerOptions = {},
): Promise<Pkcs11Signer> {
  try {
    return Pkcs11Signer.open(parsePkcs11Uri(ref, options.env), options.pins);
  } catch (e) {
    return Promise.reject(e);
  }
}
