/**
 * Bytes are checked where they enter: a pass-through transform that counts and hashes what
 * flows through it and, at the end of the stream, fails with SizeMismatchError or
 * DigestMismatchError naming both values. A stream that runs past its declared size fails at
 * once, without reading the excess.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { DigestMismatchError, SizeMismatchError } from "../errors.js";

/** Digest algorithms the OCI spec registers; the name before `:` maps to a node:crypto hash. */
const ALGORITHMS: Record<string, string> = { sha256: "sha256", sha512: "sha512" };

/** A node:crypto hash for `digest`'s algorithm; throws DigestMismatchError for unknown ones. */
export function hasherFor(digest: string, what: string): Hash {
  const algo = ALGORITHMS[digest.slice(0, digest.indexOf(":"))];
  if (!algo) throw new DigestMismatchError(what, digest, "unsupported digest algorithm");
  return createHash(algo);
}

/** Check a whole buffer (manifests, configs) against its digest and, when known, its size. */
export function verifyBytes(bytes: Uint8Array, digest: string, size: number | undefined, what: string): void {
  if (size !== undefined && bytes.length !== size) throw new SizeMismatchError(what, size, bytes.length);
  const actual = `${digest.slice(0, digest.indexOf(":"))}:${hasherFor(digest, what).update(bytes).digest("hex")}`;
  if (actual !== digest) throw new DigestMismatchError(what, digest, actual);
}

/**
 * Counts and hashes bytes flowing through; verifies digest and size at the end. Hashing is inline:
 * sha256 runs at about the speed of a loopback transfer, and a worker thread would only move the
 * same CPU work to a core the registry or the decompressor needs (measured: no gain on 2 cores).
 */
export class VerifiedReader extends Transform {
  private readonly hash: Hash;
  /** Bytes seen so far. */
  bytes = 0;

  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly what: string,
  ) {
    super({ highWaterMark: 1 << 20 });
    this.hash = hasherFor(expectedDigest, what);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expectedSize !== undefined && this.bytes > this.expectedSize) {
      done(new SizeMismatchError(this.what, this.expectedSize, this.bytes));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.expectedSize !== undefined && this.bytes !== this.expectedSize) {
      done(new SizeMismatchError(this.what, this.expectedSize, this.bytes));
      return;
    }
    const algo = this.expectedDigest.slice(0, this.expectedDigest.indexOf(":"));
    const actual = `${algo}:${this.hash.digest("hex")}`;
    done(actual === this.expectedDigest ? null : new DigestMismatchError(this.what, this.expectedDigest, actual));
  }
}
