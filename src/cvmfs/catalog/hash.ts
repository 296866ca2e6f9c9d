import { CatalogError } from "../../errors.js";
import type { HashAlgorithm } from "../../content/content-store.js";

/**
 * Conversions between hash strings (`hex` + `-rmd160`/`-shake128`, cvmfs-formats.md §0) and what
 * catalog rows hold: the raw digest in `hash`/`chunks.hash` and the algorithm in flag bits 8–10.
 */

/** Catalog flag bits 8–10 hold the algorithm enum minus one (MD5 is never a content hash). */
const ALGO_FLAG_VALUE: Record<HashAlgorithm, number> = { sha1: 0, rmd160: 1, shake128: 2 };
const ALGO_SUFFIX: Record<HashAlgorithm, string> = { sha1: "", rmd160: "-rmd160", shake128: "-shake128" };
export const HASH_FLAG_SHIFT = 8;

/** Digest and algorithm of a hash string (no object suffix). */
export function splitHashString(hash: string): { digest: Buffer; algorithm: HashAlgorithm } {
  // No regex: this runs once per file row. Buffer.from stops at the first non-hex character,
  // so the length check also rejects malformed digits.
  const id = hash.length === 40 ? "" : hash.slice(40);
  const algorithm = id === "" ? "sha1" : id === "-rmd160" ? "rmd160" : id === "-shake128" ? "shake128" : undefined;
  const digest = Buffer.from(hash.slice(0, 40), "hex");
  if (algorithm === undefined || digest.length !== 20) throw new CatalogError(`malformed content hash "${hash}"`);
  return { digest, algorithm };
}

/**
 * Decodes the digest of a hash string into `into` (20 bytes) and returns its algorithm: as
 * {@link splitHashString}, without allocating (for the rows of a whole image).
 */
export function decodeHashInto(hash: string, into: Buffer): HashAlgorithm {
  const algorithm = hash.length === 40 ? "sha1" : hash.endsWith("-rmd160") ? "rmd160" : hash.endsWith("-shake128") ? "shake128" : undefined;
  // Hex decoding stops at the first non-hex character: 20 bytes means 40 good digits.
  if (algorithm === undefined || hash.length !== 40 + (algorithm === "sha1" ? 0 : algorithm.length + 1) || into.write(hash, 0, 20, "hex") !== 20) {
    throw new CatalogError(`malformed content hash "${hash}"`);
  }
  return algorithm;
}

/** Hash string of a raw digest. */
export function joinHashString(digest: Uint8Array, algorithm: HashAlgorithm): string {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString("hex") + ALGO_SUFFIX[algorithm];
}

/** The algorithm's value already shifted into flag bits 8–10. */
export function hashAlgorithmFlags(algorithm: HashAlgorithm): number {
  return ALGO_FLAG_VALUE[algorithm] << HASH_FLAG_SHIFT;
}

/** The algorithm recorded in a row's flags. */
export function hashAlgorithmOfFlags(flags: number): HashAlgorithm {
  const v = (flags >> HASH_FLAG_SHIFT) & 7;
  if (v === 0) return "sha1";
  if (v === 1) return "rmd160";
  if (v === 2) return "shake128";
  throw new CatalogError(`unsupported hash algorithm ${v + 1} in catalog flags ${flags}`);
}
