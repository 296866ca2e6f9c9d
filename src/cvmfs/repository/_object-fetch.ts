import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createInflate, inflateSync } from "node:zlib";
import { DigestMismatchError, RepositoryError, SizeMismatchError } from "../../errors.js";
import type { ObjectSuffix } from "../../content/content-store.js";
import { createContentHasher, hashString, isHashString, objectPath, parseHashString } from "../objects/hash.js";
import type { RepositorySource } from "./_repository-source.js";

/**
 * Objects enter through here and nowhere else: the hash of the stored (compressed) bytes is
 * checked against the name before anything is believed, as the client does (cvmfs-formats.md §0).
 */

function algoOrThrow(hash: string) {
  if (!isHashString(hash)) throw new RepositoryError(`malformed object hash "${hash.slice(0, 60)}"`);
  return parseHashString(hash).algorithm;
}

/** The stored bytes of an object, hash-checked. Throws RepositoryError when missing. */
export async function fetchVerifiedObject(src: RepositorySource, hash: string, suffix: ObjectSuffix): Promise<Buffer> {
  const algo = algoOrThrow(hash);
  const rel = objectPath(hash, suffix);
  const bytes = await src.getBytes(rel);
  if (bytes === null) throw new RepositoryError(`object ${rel} is missing from ${src.description}`);
  const actual = hashString(createContentHasher(algo).update(bytes).digest(), algo);
  if (actual !== hash) throw new DigestMismatchError(`object ${rel}`, hash, actual);
  return bytes;
}

/** Inflate a zlib object, naming it when the stream is broken. */
export function inflateObject(bytes: Buffer, what: string): Buffer {
  try {
    return inflateSync(bytes);
  } catch (cause) {
    throw new RepositoryError(`${what}: not a zlib stream`, { cause });
  }
}

/**
 * A stream of an object's *inflated* bytes (its stored bytes as they are when `compression` is
 * `none`, the catalog's flag for an uncompressed file). The hash of the stored bytes is checked
 * at the end; on mismatch the stream errors with DigestMismatchError instead of ending, so a
 * consumer never mistakes corrupt data for a complete file. `expectedSize`, when given, is
 * checked too.
 */
export async function openVerifiedObject(
  src: RepositorySource,
  hash: string,
  suffix: ObjectSuffix,
  expectedSize?: number,
  compression: "zlib" | "none" = "zlib",
): Promise<Readable> {
  const algo = algoOrThrow(hash);
  const rel = objectPath(hash, suffix);
  const raw = await src.getStream(rel);
  if (raw === null) throw new RepositoryError(`object ${rel} is missing from ${src.description}`);
  const hasher = createContentHasher(algo);
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hasher.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      const actual = hashString(hasher.digest(), algo);
      cb(actual === hash ? null : new DigestMismatchError(`object ${rel}`, hash, actual));
    },
  });
  let count = 0;
  const size = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      count += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      cb(expectedSize === undefined || count === expectedSize ? null : new SizeMismatchError(`object ${rel}`, expectedSize, count));
    },
  });
  const done = compression === "none" ? pipeline(raw, check, size) : pipeline(raw, check, createInflate(), size);
  done.catch(() => {
    /* the error reaches the consumer through `size` */
  });
  return size;
}
