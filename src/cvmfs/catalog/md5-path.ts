import { hash } from "node:crypto";

/**
 * Catalog path keys (cvmfs-formats.md §3 "Paths and MD5 keys"): a catalog row is addressed by the
 * MD5 of its repository-relative path, split into two little-endian signed 64-bit integers, the
 * way the CVMFS publisher memcpy's the digest into two int64 columns on x86.
 */

/** `md5path_1` / `md5path_2` (or `parent_1` / `parent_2`) of one path. */
export type Md5Key = readonly [bigint, bigint];

/** The all-zero key: the `parent` of a repository root entry. */
export const ZERO_KEY: Md5Key = [0n, 0n];

/**
 * Normalises a path to the catalog's spelling: `""` for the root, `/a/b` otherwise (no trailing
 * slash, no doubled slashes). Accepts `/` and `""` for the root.
 */
export function catalogPath(path: string): string {
  if (path === "" || path === "/") return "";
  const parts = path.split("/").filter((p) => p !== "");
  return parts.length === 0 ? "" : `/${parts.join("/")}`;
}

/** The parent of a catalog path: `""` for `/a` and for the root itself. */
export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "" : path.slice(0, i);
}

/** The last component of a catalog path (`""` for the root). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Splits a 16-byte MD5 digest into the two signed little-endian int64 halves. */
export function md5KeyOfDigest(digest: Buffer): Md5Key {
  return [digest.readBigInt64LE(0), digest.readBigInt64LE(8)];
}

/** The MD5 key of a catalog path, which must already be normalised (see {@link catalogPath}). */
export function md5PathKey(path: string): Md5Key {
  // One-shot crypto.hash: a third cheaper than a Hash object, and this runs once per row.
  return md5KeyOfDigest(hash("md5", path, "buffer"));
}

/** The inverse of {@link md5KeyOfDigest}: the 16 digest bytes of a key, e.g. to print as hex. */
export function md5KeyDigest(key: Md5Key): Buffer {
  const out = Buffer.alloc(16);
  out.writeBigInt64LE(key[0], 0);
  out.writeBigInt64LE(key[1], 8);
  return out;
}
