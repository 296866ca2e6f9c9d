import { constants, privateEncrypt, publicDecrypt, sign, verify, type KeyObject } from "node:crypto";
import { SignatureError } from "../../errors.js";
import type { HashAlgorithm } from "../../content/content-store.js";
import { hashBytes, isHashString, parseHashString } from "../objects/hash.js";

/**
 * The "letter" format shared by `.cvmfspublished` and `.cvmfswhitelist` (cvmfs-formats.md §1.1,
 * §1.3): `body` + `--\n` + hex hash of body + `\n` + raw signature bytes, no trailing newline.
 * The manifest signature is PKCS#1 v1.5 with a SHA-1 DigestInfo over the ASCII hash
 * (`EVP_SignFinal`); the whitelist signature is bare PKCS#1 type-1 padding of the ASCII hash
 * (`RSA_private_encrypt`), which is why the two have different sign/verify pairs here.
 */
export interface Letter {
  /** Everything before `--\n`, ending in `\n`. */
  body: Buffer;
  /** Hash string of `body` as written in the letter. */
  hash: string;
  /** Raw signature bytes (may be empty for an unsigned letter). */
  signature: Buffer;
}

const SEPARATOR = Buffer.from("\n--\n");

/** Assemble a letter: `body` must end in `\n`. */
export function assembleLetter(body: Buffer, hash: string, signature: Buffer): Buffer {
  if (body.length === 0 || body[body.length - 1] !== 0x0a) throw new SignatureError("letter body must end with a newline");
  return Buffer.concat([body, Buffer.from(`--\n${hash}\n`), signature]);
}

/**
 * Split a letter at its first `\n--\n` (as `CutLetter` does). Returns null for body-only input, i.e.
 * when there is no separator: a manifest without a signature part.
 */
export function splitLetter(bytes: Buffer): Letter | null {
  const at = bytes.indexOf(SEPARATOR);
  if (at < 0) return null;
  const body = bytes.subarray(0, at + 1);
  const rest = bytes.subarray(at + SEPARATOR.length);
  const nl = rest.indexOf(0x0a);
  if (nl < 0) return { body, hash: rest.toString("latin1"), signature: Buffer.alloc(0) };
  return { body, hash: rest.subarray(0, nl).toString("latin1"), signature: rest.subarray(nl + 1) };
}

/** Sign a manifest body with the certificate key: the full `.cvmfspublished` bytes. */
export function signManifestBody(body: Buffer, certificateKey: KeyObject, algo: HashAlgorithm): Buffer {
  const hash = hashBytes(body, algo);
  const signature = sign("sha1", Buffer.from(hash, "latin1"), certificateKey);
  return assembleLetter(body, hash, signature);
}

/**
 * Check a manifest letter as `VerifyLetter` does: the hash is recomputed over the body with the
 * algorithm its length implies, then the signature over the ASCII hash is checked with the
 * certificate's public key. Throws SignatureError naming what failed.
 */
export function verifyManifestLetter(letter: Letter, certificatePublicKey: KeyObject): void {
  checkLetterHash(letter, "manifest");
  const ok = verify("sha1", Buffer.from(letter.hash, "latin1"), certificatePublicKey, letter.signature);
  if (!ok) throw new SignatureError("manifest signature does not verify with the repository certificate");
}

/** Raw PKCS#1 type-1 signature of the ASCII hash with the master key (`openssl pkeyutl -sign`). */
export function signWhitelistHash(hash: string, masterKey: KeyObject): Buffer {
  return privateEncrypt({ key: masterKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(hash, "latin1"));
}

/**
 * Check a whitelist letter: its hash, then that one of `masterPublicKeys` recovers exactly the
 * ASCII hash from the signature (`VerifyRsa`). Throws SignatureError.
 */
export function verifyWhitelistLetter(letter: Letter, masterPublicKeys: KeyObject[]): void {
  checkLetterHash(letter, "whitelist");
  const expected = Buffer.from(letter.hash, "latin1");
  for (const key of masterPublicKeys) {
    let recovered: Buffer;
    try {
      recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, letter.signature);
    } catch {
      continue;
    }
    if (recovered.equals(expected)) return;
  }
  throw new SignatureError("whitelist signature does not verify with the repository master key");
}

function checkLetterHash(letter: Letter, what: string): void {
  if (!isHashString(letter.hash)) throw new SignatureError(`${what}: malformed hash line "${letter.hash.slice(0, 60)}"`);
  const actual = hashBytes(letter.body, parseHashString(letter.hash).algorithm);
  if (actual !== letter.hash) throw new SignatureError(`${what}: body hash ${actual} differs from signed hash ${letter.hash}`);
}
