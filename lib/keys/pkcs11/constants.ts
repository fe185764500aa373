/**
 * The few PKCS#11 (v2.40) constants this tool uses, with the names of the
 * return values users may meet.
 *
 * @module
 */

/** Object classes (`CKA_CLASS`). */
export const CKO_PUBLIC_KEY = 2n;
/** Object class of a private key. */
export const CKO_PRIVATE_KEY = 3n;

/** Attribute types. */
export const CKA_CLASS = 0x0n;
/** Object label. */
export const CKA_LABEL = 0x3n;
/** Key type (`CKK_*`). */
export const CKA_KEY_TYPE = 0x100n;
/** Key identifier. */
export const CKA_ID = 0x102n;
/** DER-encoded curve parameters (an OID for named curves). */
export const CKA_EC_PARAMS = 0x180n;
/** DER OCTET STRING holding the uncompressed EC point. */
export const CKA_EC_POINT = 0x181n;

/** Key type of EC keys. */
export const CKK_EC = 0x3n;
/** Raw ECDSA over a caller-computed hash. */
export const CKM_ECDSA = 0x1041n;
/** Normal user (`C_Login`). */
export const CKU_USER = 1n;
/** `C_OpenSession` flag every session must carry. */
export const CKF_SERIAL_SESSION = 0x4n;
/** Token flag: a PIN is needed before private keys can be used. */
export const CKF_LOGIN_REQUIRED = 0x4n;
/** Token flag: the user PIN is locked. */
export const CKF_USER_PIN_LOCKED = 0x40000n;

/** Success. */
export const CKR_OK = 0x0n;
/** `C_Initialize` when the module is already initialised in this process. */
export const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191n;
/** `C_Login` when the session is already logged in. */
export const CKR_USER_ALREADY_LOGGED_IN = 0x100n;
/** Attribute value buffer too small. */
export const CKR_BUFFER_TOO_SMALL = 0x150n;

/** Names of return values, for messages. */
const CKR_NAMES: ReadonlyMap<bigint, string> = new Map([
  [0x0n, "CKR_OK"],
  [0x1n, "CKR_CANCEL"],
  [0x2n, "CKR_HOST_MEMORY"],
  [0x3n, "CKR_SLOT_ID_INVALID"],
  [0x5n, "CKR_GENERAL_ERROR"],
  [0x6n, "CKR_FUNCTION_FAILED"],
  [0x7n, "CKR_ARGUMENTS_BAD"],
  [0x11n, "CKR_ATTRIBUTE_SENSITIVE"],
  [0x12n, "CKR_ATTRIBUTE_TYPE_INVALID"],
  [0x21n, "CKR_DATA_LEN_RANGE"],
  [0x30n, "CKR_DEVICE_ERROR"],
  [0x31n, "CKR_DEVICE_MEMORY"],
  [0x32n, "CKR_DEVICE_REMOVED"],
  [0x54n, "CKR_FUNCTION_NOT_SUPPORTED"],
  [0x60n, "CKR_KEY_HANDLE_INVALID"],
  [0x63n, "CKR_KEY_TYPE_INCONSISTENT"],
  [0x68n, "CKR_KEY_FUNCTION_NOT_PERMITTED"],
  [0x70n, "CKR_MECHANISM_INVALID"],
  [0x91n, "CKR_OPERATION_NOT_INITIALIZED"],
  [0xa0n, "CKR_PIN_INCORRECT"],
  [0xa1n, "CKR_PIN_INVALID"],
  [0xa2n, "CKR_PIN_LEN_RANGE"],
  [0xa3n, "CKR_PIN_EXPIRED"],
  [0xa4n, "CKR_PIN_LOCKED"],
  [0xb1n, "CKR_SESSION_COUNT"],
  [0xb3n, "CKR_SESSION_HANDLE_INVALID"],
  [0xe0n, "CKR_TOKEN_NOT_PRESENT"],
  [0xe1n, "CKR_TOKEN_NOT_RECOGNIZED"],
  [0x100n, "CKR_USER_ALREADY_LOGGED_IN"],
  [0x101n, "CKR_USER_NOT_LOGGED_IN"],
  [0x102n, "CKR_USER_PIN_NOT_INITIALIZED"],
  [0x150n, "CKR_BUFFER_TOO_SMALL"],
  [0x190n, "CKR_CRYPTOKI_NOT_INITIALIZED"],
  [0x191n, "CKR_CRYPTOKI_ALREADY_INITIALIZED"],
]);

/** The name of a return value, e.g. `CKR_PIN_INCORRECT` (hex when unknown). */
export function ckrName(rv: bigint): string {
  return CKR_NAMES.get(rv) ?? `CKR 0x${rv.toString(16)}`;
}
