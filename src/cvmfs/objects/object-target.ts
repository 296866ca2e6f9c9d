import type { HashAlgorithm } from "../../content/content-store.js";

/** Where and how objects are stored. */
export interface ObjectTarget {
  /** Directory holding `data/` (a stratum 0 or a staging area). */
  rootDir: string;
  algorithm: HashAlgorithm;
  /** Called for every object stored to this target, before its `end()` promise resolves. */
  onStored?: (o: StoredObject) => void;
}

/**
 * How an object's content is stored (cvmfs-formats.md §0, §2): zlib-compressed, or as it is
 * (`none`, catalog flag 2048), the hash then covering the raw bytes.
 */
export type ObjectCompression = "zlib" | "none";

/** A finished object. */
export interface StoredObject {
  /** Hash string (hex + algorithm id), no suffix. */
  hash: string;
  /** Stored (compressed) bytes. */
  storedSize: number;
  /** Content bytes written into it. */
  size: number;
  /** False when an object of that name existed already and nothing was written. */
  written: boolean;
  compression: ObjectCompression;
}
