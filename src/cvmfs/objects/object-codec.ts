import { Transform, type TransformCallback } from "node:stream";
import { constants, createDeflate, createInflate, deflateSync, inflateSync, type Deflate } from "node:zlib";
import { InternalError } from "../../errors.js";
import type { HashAlgorithm } from "../../content/content-store.js";
import { createContentHasher, hashString } from "./hash.js";

/**
 * The CVMFS object encoding (cvmfs-formats.md §0): zlib *with* its RFC 1950 header at
 * `Z_DEFAULT_COMPRESSION` (windowBits 15, memLevel 8, as `deflateInit` picks), and the content
 * hash taken over the stored, compressed bytes. The compress pool does the same work off the main
 * thread (with libdeflate when it can, and storing what will not shrink uncompressed, §2); these
 * in-thread zlib helpers serve small objects, tests, and readers, which inflate any zlib stream.
 */

/** zlib options matching `deflateInit(Z_DEFAULT_COMPRESSION)`. */
export const OBJECT_ZLIB_OPTIONS = Object.freeze({ level: constants.Z_DEFAULT_COMPRESSION });

/** The stored bytes of an object whose content is `bytes`. */
export function compressBuffer(bytes: Uint8Array): Buffer {
  return deflateSync(bytes, OBJECT_ZLIB_OPTIONS);
}

/** The content of an object from its stored bytes. */
export function inflateBuffer(stored: Uint8Array): Buffer {
  return inflateSync(stored);
}

/** The content of an object from its stored bytes, stored with `compression` (`none`: the bytes are the content). */
export function decodeObject(stored: Buffer, compression: "zlib" | "none"): Buffer {
  return compression === "none" ? stored : inflateSync(stored);
}

/** A stream turning stored object bytes back into content. */
export function inflateStream(): Transform {
  return createInflate();
}

/** One encoded object: its stored bytes and the hash string naming them (no suffix). */
export interface EncodedObject {
  bytes: Buffer;
  hash: string;
}

/** Compress and hash `bytes` in the calling thread. */
export function encodeObject(bytes: Uint8Array, algo: HashAlgorithm): EncodedObject {
  const stored = compressBuffer(bytes);
  return { bytes: stored, hash: hashString(createContentHasher(algo).update(stored).digest(), algo) };
}

/**
 * A Transform from content to stored bytes that hashes the stored bytes as they pass, so the name
 * of an object is known the moment its last byte has been written. `result()` is valid after
 * the stream has ended.
 */
export class ObjectEncoder extends Transform {
  private readonly deflate: Deflate;
  private readonly hasher;
  private storedSize = 0;
  private digest: Buffer | null = null;

  constructor(private readonly algo: HashAlgorithm) {
    super();
    this.hasher = createContentHasher(algo);
    this.deflate = createDeflate(OBJECT_ZLIB_OPTIONS);
    this.deflate.on("data", (chunk: Buffer) => {
      this.hasher.update(chunk);
      this.storedSize += chunk.length;
      // Stop the inner stream while our reader is behind; _read resumes it.
      if (!this.push(chunk)) this.deflate.pause();
    });
    this.deflate.on("error", (err) => this.destroy(err));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    // Writing through the inner deflate keeps its own backpressure: wait for drain when asked.
    if (this.deflate.write(chunk)) cb();
    else this.deflate.once("drain", () => cb());
  }

  override _read(size: number): void {
    this.deflate.resume();
    super._read(size);
  }

  override _flush(cb: TransformCallback): void {
    this.deflate.once("end", () => {
      this.digest = this.hasher.digest();
      cb();
    });
    this.deflate.end();
  }

  /** Hash string and stored size of the finished object. */
  result(): { hash: string; storedSize: number } {
    if (!this.digest) throw new InternalError("ObjectEncoder.result() called before the stream ended");
    return { hash: hashString(this.digest, this.algo), storedSize: this.storedSize };
  }
}
