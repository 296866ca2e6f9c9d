import type { Readable } from "node:stream";

/**
 * How a regular file's bytes live in the content store: CVMFS objects, zlib-compressed (or stored
 * as they are, when compressing would not shrink them) and addressed by the hash of the stored
 * bytes (cvmfs-formats.md §0, §2). The image tree keeps only this reference; the bytes never
 * travel with the tree.
 */

export type HashAlgorithm = "sha1" | "rmd160" | "shake128";

/** One piece of a chunked file (a `P` object and a `chunks` row). */
export interface ChunkRef {
  /** Offset and size in the uncompressed file. */
  offset: number;
  size: number;
  /** Hash string of the stored object: hex plus algorithm id (`-rmd160`), no suffix. */
  hash: string;
}

export interface FileContent {
  /** Uncompressed size in bytes. */
  size: number;
  /** Hash string of the whole-file object (no suffix); null when the file is chunked. */
  hash: string | null;
  /** Present and length ≥ 2 when the file is stored as chunks. */
  chunks?: ChunkRef[];
  /**
   * `none` when the object (every chunk of it) holds the raw bytes, so the hash covers them and
   * the catalog row carries compression flag 2048 (cvmfs-formats.md §2 "Uncompressed objects");
   * absent means zlib.
   */
  compression?: "none";
}

/** Object suffixes (cvmfs-formats.md §0): none for whole files. */
export type ObjectSuffix = "" | "C" | "H" | "X" | "M" | "P";

/**
 * A content-addressed store of CVMFS objects: a local `data/` directory (a stratum 0 or a
 * staging area whose new objects a gateway publish uploads).
 */
export interface ContentStore {
  readonly hashAlgorithm: HashAlgorithm;
  /**
   * Compress (unless it would not shrink), hash and store one file's bytes, chunked when larger
   * than the minimum chunk size.
   * `body` is consumed as fast as it is produced (so a tar parser can move on to the next entry
   * once the body has ended); the returned promise may settle later, when the last object is
   * written. An object already present is not rewritten.
   */
  putFile(body: Readable | AsyncIterable<Uint8Array>): Promise<FileContent>;
  /** Store a whole buffer as one object (catalogs, certificates, history); returns its hash string. */
  putBuffer(bytes: Uint8Array, suffix: ObjectSuffix): Promise<string>;
  /** Whether the object is present. */
  has(hash: string, suffix: ObjectSuffix): Promise<boolean>;
  /** The uncompressed bytes of a stored file (chunks concatenated), as a stream. */
  readFile(content: FileContent): Readable;
  /** Path of the stored (compressed) object, for uploads and verification. */
  objectPath(hash: string, suffix: ObjectSuffix): string;
}
