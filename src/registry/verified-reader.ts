/**
 * Bytes are checked where they enter: a pass-through transform that counts and hashes what
 * flows through it and, at the end of the stream, fails with SizeMismatchError or
 * DigestMismatchError naming both values. A stream that runs past its declared size fails at
 * once, without reading the excess.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { DigestMismatchError, SizeMismatchError } from "../errors.js";
import { OffThreadHash } from "./_off-thread-hash.js";

/** From this size on, hash on the worker thread: below it, the hand-over costs more than it saves. */
const OFF_THREAD_FROM = 8 << 20;

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
 * Counts and hashes bytes flowing through; verifies digest and size at the end. Blobs of 8 MiB
 * and more are hashed on a worker thread (`offThread: false` forces inline hashing).
 */
export class VerifiedReader extends Transform {
  private readonly hash: Hash | undefined;
  private readonly offThread: OffThreadHash | undefined;
  private readonly algo: string;
  private finished = false;
  /** Bytes seen so far. */
  bytes = 0;

  constructor(
    private readonly expectedDigest: string,
    private readonly expectedSize: number | undefined,
    private readonly what: string,
    options: { offThread?: boolean } = {},
  ) {
    super({ highWaterMark: 1 << 20 });
    const hash = hasherFor(expectedDigest, what);
    this.algo = expectedDigest.slice(0, expectedDigest.indexOf(":"));
    const big = expectedSize === undefined || expectedSize >= OFF_THREAD_FROM;
    if ((options.offThread ?? big) && (this.algo === "sha256" || this.algo === "sha512")) this.offThread = new OffThreadHash(this.algo);
    else this.hash = hash;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expectedSize !== undefined && this.bytes > this.expectedSize) {
      done(new SizeMismatchError(this.what, this.expectedSize, this.bytes));
      return;
    }
    if (this.hash) {
      this.hash.update(chunk);
      done(null, chunk);
      return;
    }
    let wait: Promise<void> | undefined;
    try {
      wait = this.offThread!.update(chunk);
    } catch (err) {
      done(err as Error);
      return;
    }
    this.push(chunk);
    if (wait) wait.then(() => done(), done);
    else done();
  }

  override _flush(done: TransformCallback): void {
    this.finished = true;
    if (this.expectedSize !== undefined && this.bytes !== this.expectedSize) {
      this.offThread?.abandon();
      done(new SizeMismatchError(this.what, this.expectedSize, this.bytes));
      return;
    }
    const check = (hex: string) => {
      const actual = `${this.algo}:${hex}`;
      done(actual === this.expectedDigest ? null : new DigestMismatchError(this.what, this.expectedDigest, actual));
    };
    if (this.hash) check(this.hash.digest("hex"));
    else this.offThread!.digest().then(check, done);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.finished) this.offThread?.abandon();
    callback(err);
  }
}
