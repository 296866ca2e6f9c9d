import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Gateway request authentication (cvmfs-formats.md §5.2): HMAC-SHA1 of the message under the
 * key's secret, written as lowercase hex, and that 40-character hex *string* base64-encoded
 * (standard alphabet, `=` padding). The gateway compares the base64 text, so the hex step is not
 * optional: base64 of the raw digest is rejected.
 */

/** The signature text for `message` (56 base64 characters). */
export function hmacSign(secret: string | Uint8Array, message: string | Uint8Array): string {
  const hex = createHmac("sha1", secret).update(message).digest("hex");
  return Buffer.from(hex, "latin1").toString("base64");
}

/** Constant-time check of a signature produced by {@link hmacSign}. */
export function hmacVerify(secret: string | Uint8Array, message: string | Uint8Array, signature: string): boolean {
  const expected = Buffer.from(hmacSign(secret, message), "latin1");
  const actual = Buffer.from(signature, "latin1");
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** The `Authorization` header value: `KEY_ID SIGNATURE`. */
export function authorizationHeader(keyId: string, secret: string | Uint8Array, message: string | Uint8Array): string {
  return `${keyId} ${hmacSign(secret, message)}`;
}

/**
 * Split an `Authorization` header into key id and signature; undefined when it is missing or
 * not two whitespace-separated tokens (the gateway then answers `invalid_hmac`).
 */
export function parseAuthorization(header: string | undefined): { keyId: string; signature: string } | undefined {
  if (header === undefined) return undefined;
  const parts = header.trim().split(/\s+/);
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { keyId: parts[0], signature: parts[1] };
}
