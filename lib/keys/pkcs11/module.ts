/**
 * A thin Deno FFI binding to a PKCS#11 module (`Deno.dlopen`): only the
 * calls needed to find an EC key on a token, read its public half and sign
 * a hash with `CKM_ECDSA`. FFI rather than a native npm addon keeps
 * `deno compile` working with no native build; it needs `--allow-ffi`.
 *
 * Layouts assume an LP64 little-endian platform (Linux, macOS on x86_64 or
 * aarch64): `CK_ULONG` is 64 bits and structures are naturally aligned, so
 * `CK_FUNCTION_LIST` is a 2-byte `CK_VERSION` padded to 8, then one 8-byte
 * function pointer per function, and `CK_ATTRIBUTE` / `CK_MECHANISM` are
 * `{ulong; void*; ulong}` (24 bytes).
 *
 * Every call's return value is checked; a failure throws
 * {@linkcode Pkcs11Error} carrying the `CKR_*` name. No argument (PIN, data)
 * ever appears in an error.
 *
 * @module
 */

import { Pkcs11Error } from "../../errors/errors.ts";
import {
  CKF_SERIAL_SESSION,
  CKM_ECDSA,
  CKR_BUFFER_TOO_SMALL,
  CKR_CRYPTOKI_ALREADY_INITIALIZED,
  CKR_OK,
  CKR_USER_ALREADY_LOGGED_IN,
  ckrName,
  CKU_USER,
} from "./constants.ts";
import { isPermissionError } from "../../fs/read_file.ts";

const ULONG = 8;
/** `CK_UNAVAILABLE_INFORMATION`: `ulValueLen` when an attribute cannot be read. */
const UNAVAILABLE = 0xffffffffffffffffn;
const CKR_ATTRIBUTE_SENSITIVE = 0x11n;
const CKR_ATTRIBUTE_TYPE_INVALID = 0x12n;

/** Definitions of the functions used, with their index in `CK_FUNCTION_LIST`. */
const FUNCTIONS = {
  C_Initialize: { index: 0, parameters: ["pointer"] },
  C_Finalize: { index: 1, parameters: ["pointer"] },
  C_GetSlotList: { index: 4, parameters: ["u8", "buffer", "buffer"] },
  C_GetTokenInfo: { index: 6, parameters: ["u64", "buffer"] },
  C_OpenSession: { index: 12, parameters: ["u64", "u64", "pointer", "pointer", "buffer"] },
  C_CloseSession: { index: 13, parameters: ["u64"] },
  C_Login: { index: 18, parameters: ["u64", "u64", "buffer", "u64"] },
  C_Logout: { index: 19, parameters: ["u64"] },
  C_GetAttributeValue: { index: 24, parameters: ["u64", "u64", "buffer", "u64"] },
  C_FindObjectsInit: { index: 26, parameters: ["u64", "buffer", "u64"] },
  C_FindObjects: { index: 27, parameters: ["u64", "buffer", "u64", "buffer"] },
  C_FindObjectsFinal: { index: 28, parameters: ["u64"] },
  C_SignInit: { index: 42, parameters: ["u64", "buffer", "u64"] },
  C_Sign: { index: 43, parameters: ["u64", "buffer", "u64", "buffer", "buffer"] },
} as const;

type FunctionName = keyof typeof FUNCTIONS;
/** What the bound functions take: handles/flags, buffers, NULL. */
type FfiArg = number | bigint | ArrayBufferView | null;
/** A bound PKCS#11 function; every one returns a `CK_RV`. */
interface BoundFn {
  call(...args: FfiArg[]): number | bigint;
}

/** One attribute of a search template: its type and value bytes. */
export interface Attribute {
  type: bigint;
  value: Uint8Array;
}

/** What `C_GetTokenInfo` says about a token (strings blank-trimmed). */
export interface TokenInfo {
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  /** `CKF_*` token flags. */
  flags: bigint;
}

/** `value` as a native `CK_ULONG`, for attribute values such as `CKA_CLASS`. */
export function ulongBytes(value: bigint): Uint8Array {
  const b = new Uint8Array(ULONG);
  new DataView(b.buffer).setBigUint64(0, value, true);
  return b;
}

/** Decode a native `CK_ULONG` attribute value. */
export function readUlong(bytes: Uint8Array): bigint {
  if (bytes.length !== ULONG) throw new Pkcs11Error("a CK_ULONG attribute has the wrong size");
  return new DataView(bytes.buffer, bytes.byteOffset, ULONG).getBigUint64(0, true);
}

function pointerValue(buf: Uint8Array): bigint {
  if (buf.length === 0) return 0n;
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>)));
}

/** A `CK_ATTRIBUTE[]` over `attrs`; the caller keeps `attrs` alive during the call. */
function template(attrs: Attribute[]): Uint8Array {
  const t = new Uint8Array(Math.max(1, attrs.length) * 3 * ULONG);
  const v = new DataView(t.buffer);
  attrs.forEach((a, i) => {
    v.setBigUint64(i * 24, a.type, true);
    v.setBigUint64(i * 24 + 8, pointerValue(a.value), true);
    v.setBigUint64(i * 24 + 16, BigInt(a.value.length), true);
  });
  return t;
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes).replace(/[ \0]+$/, "");
}

/** Is FFI usable on this platform with the layouts above? */
function assertSupportedPlatform(): void {
  const okOs = Deno.build.os === "linux" || Deno.build.os === "darwin";
  const okArch = Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64";
  if (!okOs || !okArch) {
    throw new Pkcs11Error(
      `PKCS#11 tokens are not supported on ${Deno.build.os}/${Deno.build.arch} yet`,
      { hint: "sign on Linux or macOS (x86_64, aarch64)" },
    );
  }
}

/** A loaded and initialised PKCS#11 module. Call {@linkcode close} when done. */
export class Pkcs11Module {
  readonly #lib: Deno.DynamicLibrary<
    { C_GetFunctionList: { parameters: ["buffer"]; result: "u64" } }
  >;
  readonly #fns = new Map<FunctionName, BoundFn>();
  readonly #path: string;
  #initialized = false;

  private constructor(
    lib: Deno.DynamicLibrary<{ C_GetFunctionList: { parameters: ["buffer"]; result: "u64" } }>,
    path: string,
  ) {
    this.#lib = lib;
    this.#path = path;
  }

  /**
   * `dlopen` the module, read its function list and `C_Initialize` it.
   *
   * @throws {Pkcs11Error} when FFI permission is missing, the file is not a
   *   PKCS#11 module, or initialisation fails
   */
  static load(path: string): Pkcs11Module {
    assertSupportedPlatform();
    try {
      if (!Deno.statSync(path).isFile) {
        throw new Pkcs11Error(`PKCS#11 module ${path} is not a regular file`);
      }
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Pkcs11Error(`PKCS#11 module ${path} does not exist`, {
          hint: "check module-path= in the pkcs11: URI",
        });
      }
      // Without read permission dlopen still decides; anything else is reported by it.
      if (e instanceof Pkcs11Error) throw e;
    }
    let lib;
    try {
      lib = Deno.dlopen(path, { C_GetFunctionList: { parameters: ["buffer"], result: "u64" } });
    } catch (e) {
      if (isPermissionError(e)) {
        throw new Pkcs11Error("using a PKCS#11 token needs permission to load native code (FFI)", {
          hint: `run with 'deno run --allow-ffi=${path} …' (compiled binaries cannot load it)`,
          cause: e,
        });
      }
      throw new Pkcs11Error(`cannot load PKCS#11 module ${path}`, {
        hint: "module-path must name a PKCS#11 shared library (.so)",
        cause: e,
      });
    }
    const module = new Pkcs11Module(lib, path);
    try {
      module.#bind();
      const rv = module.#raw("C_Initialize", null);
      if (rv === CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        // Someone else in this process owns initialisation; do not finalize it.
      } else {
        module.#check("C_Initialize", rv);
        module.#initialized = true;
      }
      return module;
    } catch (e) {
      lib.close();
      throw e;
    }
  }

  #bind(): void {
    const out = new BigUint64Array(1);
    const rv = BigInt(this.#lib.symbols.C_GetFunctionList(out));
    this.#check("C_GetFunctionList", rv);
    const list = Deno.UnsafePointer.create(out[0]);
    if (list === null) throw new Pkcs11Error(`PKCS#11 module ${this.#path} has no function list`);
    const view = new Deno.UnsafePointerView(list);
    const major = view.getUint8(0);
    if (major !== 2 && major !== 3) {
      throw new Pkcs11Error(`PKCS#11 module ${this.#path} speaks Cryptoki ${major}.x, not 2.x`);
    }
    for (
      const [name, def] of Object.entries(FUNCTIONS) as [
        FunctionName,
        typeof FUNCTIONS[FunctionName],
      ][]
    ) {
      const fp = view.getPointer(8 + def.index * 8);
      if (fp === null) {
        throw new Pkcs11Error(`PKCS#11 module ${this.#path} does not provide ${name}`);
      }
      const definition = { parameters: [...def.parameters], result: "u64" } as const;
      // The pointer is untyped C; its definition comes from FUNCTIONS.
      // deno-lint-ignore no-explicit-any
      const fn = new Deno.UnsafeFnPointer(fp as any, definition);
      this.#fns.set(name, fn as unknown as BoundFn);
    }
  }

  #raw(name: FunctionName, ...args: FfiArg[]): bigint {
    const fn = this.#fns.get(name);
    if (!fn) throw new Pkcs11Error(`PKCS#11 ${name} is not bound`);
    return BigInt(fn.call(...args));
  }

  #check(name: string, rv: bigint): void {
    if (rv !== CKR_OK) {
      const rvName = ckrName(rv);
      throw new Pkcs11Error(`PKCS#11 ${name} failed: ${rvName}`, { rv: rvName });
    }
  }

  #call(name: FunctionName, ...args: FfiArg[]): void {
    this.#check(name, this.#raw(name, ...args));
  }

  /** IDs of the slots that hold a token. */
  slots(): bigint[] {
    const count = new BigUint64Array(1);
    this.#call("C_GetSlotList", 1, null, count);
    if (count[0] === 0n) return [];
    const list = new BigUint64Array(Number(count[0]));
    this.#call("C_GetSlotList", 1, list, count);
    return Array.from(list.subarray(0, Number(count[0])));
  }

  /** `C_GetTokenInfo` for a slot. */
  tokenInfo(slot: bigint): TokenInfo {
    // CK_TOKEN_INFO is 208 bytes on LP64; leave room.
    const buf = new Uint8Array(512);
    this.#call("C_GetTokenInfo", slot, buf);
    return {
      label: text(buf.subarray(0, 32)),
      manufacturer: text(buf.subarray(32, 64)),
      model: text(buf.subarray(64, 80)),
      serial: text(buf.subarray(80, 96)),
      flags: new DataView(buf.buffer).getBigUint64(96, true),
    };
  }

  /** Open a read-only session on a slot's token. */
  openSession(slot: bigint): bigint {
    const handle = new BigUint64Array(1);
    this.#call("C_OpenSession", slot, CKF_SERIAL_SESSION, null, null, handle);
    return handle[0];
  }

  /** Close a session (errors ignored: used in cleanup). */
  closeSession(session: bigint): void {
    this.#raw("C_CloseSession", session);
  }

  /** Log the normal user in; an already logged-in session is fine. */
  login(session: bigint, pin: Uint8Array): void {
    const rv = this.#raw("C_Login", session, CKU_USER, pin, BigInt(pin.length));
    if (rv !== CKR_USER_ALREADY_LOGGED_IN) this.#check("C_Login", rv);
  }

  /** Log out (errors ignored: used in cleanup). */
  logout(session: bigint): void {
    this.#raw("C_Logout", session);
  }

  /** Handles of the objects matching every attribute of `attrs` (at most `max`). */
  findObjects(session: bigint, attrs: Attribute[], max = 16): bigint[] {
    const t = template(attrs);
    this.#call("C_FindObjectsInit", session, t, BigInt(attrs.length));
    try {
      const found: bigint[] = [];
      const handles = new BigUint64Array(max);
      const count = new BigUint64Array(1);
      while (found.length < max) {
        this.#call("C_FindObjects", session, handles, BigInt(max), count);
        if (count[0] === 0n) break;
        found.push(...handles.subarray(0, Number(count[0])));
      }
      return found.slice(0, max);
    } finally {
      this.#raw("C_FindObjectsFinal", session);
    }
  }

  /** One attribute's value, or undefined when the object has none or hides it. */
  attribute(session: bigint, object: bigint, type: bigint): Uint8Array | undefined {
    const probe = template([{ type, value: new Uint8Array(0) }]);
    const rv = this.#raw("C_GetAttributeValue", session, object, probe, 1n);
    if (rv === CKR_ATTRIBUTE_TYPE_INVALID || rv === CKR_ATTRIBUTE_SENSITIVE) return undefined;
    this.#check("C_GetAttributeValue", rv);
    const len = new DataView(probe.buffer).getBigUint64(16, true);
    if (len === UNAVAILABLE) return undefined;
    if (len > 65536n) throw new Pkcs11Error("a PKCS#11 attribute is implausibly large");
    const value = new Uint8Array(Number(len));
    if (value.length === 0) return value;
    const t = template([{ type, value }]);
    this.#call("C_GetAttributeValue", session, object, t, 1n);
    const got = new DataView(t.buffer).getBigUint64(16, true);
    return value.subarray(0, Number(got));
  }

  /** Raw ECDSA (`CKM_ECDSA`) over `hash` with a private key: `r || s`. */
  signEcdsa(session: bigint, key: bigint, hash: Uint8Array): Uint8Array {
    const mechanism = new Uint8Array(3 * ULONG);
    new DataView(mechanism.buffer).setBigUint64(0, CKM_ECDSA, true);
    this.#call("C_SignInit", session, mechanism, key);
    const sig = new Uint8Array(512);
    const len = new BigUint64Array([BigInt(sig.length)]);
    const rv = this.#raw("C_Sign", session, hash, BigInt(hash.length), sig, len);
    if (rv === CKR_BUFFER_TOO_SMALL) throw new Pkcs11Error("the token's signature is too large");
    this.#check("C_Sign", rv);
    return sig.slice(0, Number(len[0]));
  }

  /** `C_Finalize` (when this object initialised the module) and unload it. */
  close(): void {
    try {
      if (this.#initialized) this.#raw("C_Finalize", null);
    } finally {
      this.#initialized = false;
      this.#lib.close();
    }
  }
}
