/**
 * Dangerzone's published cosign public key (`freedomofpress-dangerzone.pub`),
 * the default `--key`. It is public; embedding it lets the compiled binary
 * verify official images with no file beside it. The text is byte-for-byte
 * the published file (trailing newline included), so its sha256, the key id
 * the signature store uses, equals that of the file Dangerzone ships:
 * `f8d4fdda2a40d010a1d7d4024e78cecc14d9ab48c89301a901df960a0c47a074`.
 *
 * @module
 */

/** Name the embedded key is reported under. */
export const DANGERZONE_KEY_NAME = "freedomofpress-dangerzone.pub";

/** PEM text of Dangerzone's published image-signing key. */
export const DANGERZONE_PUBLIC_KEY_PEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3CUlnwh825Z5wQAJV6TekEi6bCK2
YvAg7A+aeerM5hvc4CCCJFBae5AjnsjGHv4V/3xzssck6e51W+b0jU4qVw==
-----END PUBLIC KEY-----
`;
