import type { TreeNode } from "../../tree/types.js";
import { stMode } from "../../tree/types.js";
import { CatalogError } from "../../errors.js";
import type { ChunkRef, FileContent } from "../../content/content-store.js";
import { decodeHashInto, hashAlgorithmFlags, hashAlgorithmOfFlags, joinHashString, splitHashString } from "./hash.js";
import type { Md5Key } from "./md5-path.js";
import { parseXattrs, serializeXattrs } from "./xattr-blob.js";

/**
 * Catalog rows (cvmfs-formats.md §3 "Columns", "flags bits"): the pure mapping from image tree
 * nodes to the `catalog` table's columns, and back from stored rows to a decoded entry.
 */

/** `flags` bits (CVMFS `SqlDirent::kFlag*`). */
export const Flag = {
  Dir: 1,
  NestedMountpoint: 2,
  File: 4,
  Link: 8,
  Special: 16,
  NestedRoot: 32,
  Chunked: 64,
  External: 128,
  /** Compression `none` in bits 11–13 (zlib is 0): the object holds the file's raw bytes. */
  CompressionNone: 2048,
  BindMountpoint: 0x4000,
  Hidden: 0x8000,
  DirectIo: 0x10000,
} as const;

/** Which of a directory's two rows this is: a plain dir, the parent's mountpoint, the child's root. */
export type DirRole = "plain" | "mountpoint" | "nestedRoot";

/** One `catalog` row, column for column; md5 keys as BigInt, everything else as stored. */
export interface CatalogRow {
  md5path: Md5Key;
  parent: Md5Key;
  /** `(group << 32) | linkcount`. */
  hardlinks: number;
  hash: Buffer | null;
  size: number;
  mode: number;
  mtime: number;
  mtimens: number | null;
  flags: number;
  name: string;
  symlink: string;
  uid: number;
  gid: number;
  xattr: Buffer | null;
}

/** Directory st_size as tar ingestion and the repository root record it. */
export const DIR_SIZE = 4096;

/** glibc `makedev(major, minor)`: the 64-bit dev_t a catalog stores as a device's size. */
export function makedev(major: number, minor: number): number {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  const dev =
    ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
  return Number(dev);
}

/** `hardlinks` column value: group 0 (not hard-linked) unless given. */
export function packHardlinks(linkcount: number, group = 0): number {
  if (linkcount < 1) throw new CatalogError(`linkcount ${linkcount} would make the entry unreadable`);
  return group * 2 ** 32 + linkcount;
}

/**
 * Flags and hash column of a regular file's content: plain (4) or chunked (68), algorithm bits,
 * and the compression bits when its objects are stored uncompressed (one setting for all chunks).
 */
function fileFlagsAndHash(content: FileContent, out: unknown[], hashAt: number, digest: Buffer | undefined): number {
  const file = content.compression === "none" ? Flag.File | Flag.CompressionNone : Flag.File;
  if (content.chunks !== undefined && content.chunks.length >= 2) {
    const first = content.chunks[0] as ChunkRef;
    out[hashAt] = null;
    return file | Flag.Chunked | hashAlgorithmFlags(splitHashString(first.hash).algorithm);
  }
  if (content.hash === null) throw new CatalogError("a regular file without content hash or chunks");
  if (digest !== undefined) {
    out[hashAt] = digest;
    return file | hashAlgorithmFlags(decodeHashInto(content.hash, digest));
  }
  const split = splitHashString(content.hash);
  out[hashAt] = split.digest;
  return file | hashAlgorithmFlags(split.algorithm);
}

function dirFlags(role: DirRole): number {
  return Flag.Dir | (role === "mountpoint" ? Flag.NestedMountpoint : role === "nestedRoot" ? Flag.NestedRoot : 0);
}

/** Positions of the columns in a row written by {@link writeRowColumns} (the `COLUMNS` order of db.ts). */
export const Col = {
  md5path1: 0, md5path2: 1, parent1: 2, parent2: 3, hardlinks: 4, hash: 5, size: 6, mode: 7,
  mtime: 8, mtimens: 9, flags: 10, name: 11, symlink: 12, uid: 13, gid: 14, xattr: 15,
} as const;

/** Columns per row. */
export const COLUMN_COUNT = 16;

/**
 * Writes every column of one tree node's row except the four key columns into `out[at + Col.*]`,
 * where a batch of rows is bound from (no object per row: this runs a million times for a large
 * image). `subdirs` is the number of subdirectories of a directory node (its linkcount is
 * 2 + subdirs); `role` marks nested-catalog transition points. Hard-linked files become
 * independent rows with linkcount 1 and the shared content hash: the gateway merge splits
 * hardlink groups anyway, and group 0 keeps both publish paths identical. A file's digest goes
 * into `digest` when given (a 20-byte buffer the caller reuses once the row is bound), else
 * into a new buffer.
 * @throws CatalogError for a file without content hash or chunks, or an invalid xattr list.
 */
export function writeRowColumns(
  node: TreeNode,
  name: string,
  subdirs: number,
  role: DirRole,
  out: unknown[],
  at: number,
  digest?: Buffer,
): void {
  let hardlinks = 1;
  let size = 0;
  let flags: number;
  let symlink = "";
  switch (node.type) {
    case "dir":
      hardlinks = packHardlinks(2 + subdirs);
      size = DIR_SIZE;
      flags = dirFlags(role);
      out[at + Col.hash] = null;
      break;
    case "file":
      flags = fileFlagsAndHash(node.content, out, at + Col.hash, digest);
      size = node.content.size;
      break;
    case "symlink":
      size = Buffer.byteLength(node.target, "utf8");
      flags = Flag.File | Flag.Link;
      symlink = node.target;
      out[at + Col.hash] = null;
      break;
    default:
      size = node.type === "char" || node.type === "block" ? makedev(node.devMajor, node.devMinor) : 0;
      flags = Flag.File | Flag.Special;
      out[at + Col.hash] = null;
  }
  out[at + Col.hardlinks] = hardlinks;
  out[at + Col.size] = size;
  out[at + Col.mode] = stMode(node);
  out[at + Col.mtime] = node.mtime;
  out[at + Col.mtimens] = node.mtimeNs ?? null;
  out[at + Col.flags] = flags;
  out[at + Col.name] = name;
  out[at + Col.symlink] = symlink;
  out[at + Col.uid] = node.uid;
  out[at + Col.gid] = node.gid;
  out[at + Col.xattr] = node.xattrs === undefined ? null : serializeXattrs(node.xattrs);
}

const scratch: unknown[] = new Array(COLUMN_COUNT);

/** The catalog row of one tree node, as an object (see {@link writeRowColumns}). */
export function catalogRow(
  node: TreeNode,
  name: string,
  keys: { md5path: Md5Key; parent: Md5Key },
  opts: { subdirs?: number; role?: DirRole } = {},
): CatalogRow {
  writeRowColumns(node, name, opts.subdirs ?? 0, opts.role ?? "plain", scratch, 0);
  return {
    md5path: keys.md5path,
    parent: keys.parent,
    hardlinks: scratch[Col.hardlinks] as number,
    hash: scratch[Col.hash] as Buffer | null,
    size: scratch[Col.size] as number,
    mode: scratch[Col.mode] as number,
    mtime: scratch[Col.mtime] as number,
    mtimens: scratch[Col.mtimens] as number | null,
    flags: scratch[Col.flags] as number,
    name,
    symlink: scratch[Col.symlink] as string,
    uid: scratch[Col.uid] as number,
    gid: scratch[Col.gid] as number,
    xattr: scratch[Col.xattr] as Buffer | null,
  };
}

/** A row as read back, decoded. */
export interface CatalogEntry {
  name: string;
  kind: "dir" | "file" | "symlink" | "special";
  md5path: Md5Key;
  parent: Md5Key;
  flags: number;
  /** Full st_mode, type bits included. */
  mode: number;
  size: number;
  mtime: number;
  mtimeNs: number | null;
  uid: number;
  gid: number;
  linkcount: number;
  hardlinkGroup: number;
  /** Content hash string (with algorithm id), null for non-files and chunked files. */
  hash: string | null;
  symlink: string;
  xattrs: Record<string, Buffer> | undefined;
  isMountpoint: boolean;
  isNestedRoot: boolean;
  isChunked: boolean;
  /** How a regular file's objects are stored (flags bits 11–13); `zlib` for everything else. */
  compression: "zlib" | "none";
  /** The raw row, for byte-exact copies between catalogs. */
  row: CatalogRow;
}

/** Decodes a stored row. */
export function decodeRow(row: CatalogRow): CatalogEntry {
  const f = row.flags;
  const kind = f & Flag.Dir ? "dir" : f & Flag.Link ? "symlink" : f & Flag.Special ? "special" : "file";
  return {
    name: row.name,
    kind,
    md5path: row.md5path,
    parent: row.parent,
    flags: f,
    mode: row.mode,
    size: row.size,
    mtime: row.mtime,
    mtimeNs: row.mtimens,
    uid: row.uid,
    gid: row.gid,
    linkcount: row.hardlinks % 2 ** 32,
    hardlinkGroup: Math.floor(row.hardlinks / 2 ** 32),
    hash: row.hash === null || row.hash.length === 0 ? null : joinHashString(row.hash, hashAlgorithmOfFlags(f)),
    symlink: row.symlink,
    xattrs: row.xattr === null ? undefined : parseXattrs(row.xattr),
    isMountpoint: (f & Flag.NestedMountpoint) !== 0,
    isNestedRoot: (f & Flag.NestedRoot) !== 0,
    isChunked: (f & Flag.Chunked) !== 0,
    compression: compressionOfFlags(f),
    row,
  };
}

/**
 * The compression of a row's objects: bits 11–13 hold CVMFS's algorithm enum (0 zlib, 1 none).
 * @throws CatalogError for a value neither (CVMFS defines no other; a client could not read it).
 */
export function compressionOfFlags(flags: number): "zlib" | "none" {
  const bits = (flags >> 11) & 7;
  if (bits === 0) return "zlib";
  if (bits === 1) return "none";
  throw new CatalogError(`flags ${flags}: unknown compression algorithm ${bits}`);
}
