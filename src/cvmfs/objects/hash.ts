import { createHash, type Hash } from "node:crypto";
import { RepositoryError } from "../../errors.js";
import type { HashAlgorithm, ObjectSuffix } from "../../content/content-store.js";

/**
 * CVMFS hash strings (cvmfs-formats.md §0): the lowercase hex digest followed by an algorithm id
 * (`""` for SHA-1, `-rmd160`, `-shake128`) and, where an object is named, one suffix char
 * (`C` catalog, `P` chunk, …). Every algorithm we write has a 20-byte digest; SHAKE128 is
 * squeezed to 20 bytes as the CVMFS client does (`kDigestSizes`).
 */

/** Algorithm id appended to the hex digest in a hash string. */
export const HASH_ALGORITHM_IDS: Readonly<Record<HashAlgorithm, string>> = {
  sha1: "",
  rmd160: "-rmd160",
  shake128: "-shake128",
};

/** Digest size in bytes, the same for every algorithm we support. */
export const DIGEST_SIZE = 20;

/** node:crypto algorithm name and options for a CVMFS hash algorithm. */
export function nodeHashName(algo: HashAlgorithm): "sha1" | "ripemd160" | "shake128" {
  return algo === "rmd160" ? "ripemd160" : algo;
}

/** A fresh incremental hasher for `algo` (SHAKE128 with a 20-byte output). */
export function createContentHasher(algo: HashAlgorithm): Hash {
  if (algo === "shake128") return createHash("shake128", { outputLength: DIGEST_SIZE });
  return createHash(nodeHashName(algo));
}

/** Hash string (hex + algorithm id, no object suffix) of a finished digest. */
export function hashString(digest: Uint8Array, algo: HashAlgorithm): string {
  if (digest.byteLength !== DIGEST_SIZE) {
    throw new RepositoryError(`digest of ${digest.byteLength} bytes is not a ${algo} digest`);
  }
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString("hex") + HASH_ALGORITHM_IDS[algo];
}

/** The parts of a hash string. */
export interface ParsedHash {
  algorithm: HashAlgorithm;
  /** Raw digest bytes, as catalog rows store them. */
  digest: Buffer;
  /** The hash string without suffix (hex + algorithm id). */
  hash: string;
  /** The object suffix that followed, `""` when none. */
  suffix: ObjectSuffix;
}

const HASH_RE = /^([0-9a-f]{40})(-rmd160|-shake128)?([CHXMP]?)$/;
const BARE_HASH_RE = /^[0-9a-f]{40}(?:-rmd160|-shake128)?$/;

/**
 * Parse a hash string with an optional trailing object suffix, as `MkFromSuffixedHexPtr` does.
 * Throws `RepositoryError` for anything else (MD5 strings included: never a content hash here).
 */
export function parseHashString(s: string): ParsedHash {
  const m = HASH_RE.exec(s);
  if (!m) throw new RepositoryError(`malformed hash string "${s.slice(0, 80)}"`);
  const hex = m[1] as string;
  const id = m[2] ?? "";
  const algorithm: HashAlgorithm = id === "-rmd160" ? "rmd160" : id === "-shake128" ? "shake128" : "sha1";
  return { algorithm, digest: Buffer.from(hex, "hex"), hash: hex + id, suffix: (m[3] ?? "") as ObjectSuffix };
}

/** Whether `s` is a hash string without suffix. */
export function isHashString(s: string): boolean {
  return BARE_HASH_RE.test(s);
}

/** Hash string of `bytes` hashed whole with `algo` (for text files such as the manifest). */
export function hashBytes(bytes: Uint8Array, algo: HashAlgorithm): string {
  return hashString(createContentHasher(algo).update(bytes).digest(), algo);
}

/**
 * Relative path of an object: `data/` + the first two hex chars + `/` + the rest of the hash
 * string (algorithm id included) + suffix, as `MakePath` builds it. `hash` carries no suffix.
 */
export function objectPath(hash: string, suffix: ObjectSuffix): string {
  if (!BARE_HASH_RE.test(hash)) throw new RepositoryError(`malformed hash string "${hash.slice(0, 80)}"`);
  return `data/${hash.slice(0, 2)}/${hash.slice(2)}${suffix}`;
}
