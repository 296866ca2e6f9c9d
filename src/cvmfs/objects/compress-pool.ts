import { availableParallelism } from "node:os";
import { AbortedError, InternalError } from "../../errors.js";
import { Lane } from "./_compress-lane.js";
import type { ObjectCompression, ObjectTarget, StoredObject } from "./object-target.js";
import { resolveCompressor, type Compressor, type CompressorName } from "./compressor.js";
import type { ObjectSuffix } from "../../content/content-store.js";

/**
 * A pool of worker threads that turns content into stored CVMFS objects: deflate, hash of the
 * stored bytes, temp file and rename, all off the main thread, which only copies bytes into
 * batches. Every byte of every image passes through here, so the design is about throughput:
 * - Writes are copied into per-worker batch buffers ("slabs", 1 MiB) and sent as one message with
 *   the buffer transferred, not cloned; many small files share one message. Workers hand the
 *   slabs back for reuse. (Copying is needed anyway: a tar parser's chunks are views into buffers
 *   it still owns, and transferring would detach them.)
 * - An object is bound to one worker (its zlib stream lives there); the pieces of a chunked
 *   file are separate objects, so they spread over workers and compress in parallel.
 * - A partly filled batch goes out at once only to a worker with little queued; a busy worker
 *   gets it with its next reply, fuller. Per-message costs thus stay small however many small
 *   objects are in flight, and the slabs a worker holds stay bounded (see _compress-lane.ts).
 * - Bytes queued or unacknowledged per worker are bounded; a writer that would exceed the bound
 *   gets a promise to await (backpressure reaches the tar parser and the network). The bound
 *   exceeds the largest chunk, so a sequential producer can keep every worker busy. Waiting
 *   writers resume in order, only as many as the freed room takes.
 * - A worker that dies fails the objects it held (`InternalError`) and is replaced.
 * - Workers are unref'd while nothing is open: an idle pool never keeps the process alive.
 * - The deflate implementation (compressor.ts) is chosen once, for the pool's life.
 */

/** Pool settings; every field has a default. */
export interface CompressPoolOptions {
  /** Worker threads. Default: `os.availableParallelism()`. */
  size?: number;
  /** Content bytes queued or in flight per worker before writers wait. Default 32 MiB. */
  maxBytesPerWorker?: number;
  /** Size of one batch buffer. Default 1 MiB. */
  batchBytes?: number;
  /** Deflate implementation. Default: `CVMFS_IMAGE_SYNC_COMPRESSOR`, else `auto` (compressor.ts). */
  compressor?: CompressorName | "auto";
}

/** One object being streamed into the pool. Calls must not overlap: await `write` when it returns a promise. */
export interface ObjectWriter {
  /** Queue content bytes (copied before returning or before the promise settles). */
  write(bytes: Uint8Array): Promise<void> | undefined;
  /** No more bytes: name the object with `suffix` and store it. */
  end(suffix: ObjectSuffix): Promise<StoredObject>;
  /** Drop the object; nothing is stored. Settles once its temp file, if any, is gone. */
  abort(): Promise<void>;
  /**
   * How the object is stored, known as soon as its worker has decided (for an `auto` object:
   * after its first 64 KiB or at its end), so the rest of a chunked file can follow its first
   * piece. Only for objects opened with `{ reportCompression: true }` or a fixed compression.
   */
  compression(): Promise<ObjectCompression>;
}

/** How {@link CompressPool.openObject} stores an object. */
export interface OpenObjectOptions {
  /** `zlib` (default: catalogs and the like must be), `none`, or `auto` (incompressible.ts). */
  compression?: ObjectCompression | "auto";
  /** Make {@link ObjectWriter.compression} available for an `auto` object. */
  reportCompression?: boolean;
}

/** An object being written: bound to one lane for its whole life. */
class PooledObject implements ObjectWriter {
  private size = 0;
  private settled = false;
  private readonly decided: Promise<ObjectCompression> | null;

  constructor(
    private readonly pool: CompressPool,
    private readonly lane: Lane,
    private readonly id: number,
    private readonly target: ObjectTarget,
    opts: OpenObjectOptions,
  ) {
    const compression = opts.compression ?? "zlib";
    if (compression !== "auto") {
      this.decided = Promise.resolve(compression);
      lane.open(id, target, compression);
    } else if (opts.reportCompression) {
      let report: (c: ObjectCompression) => void = () => {};
      this.decided = new Promise((resolve) => (report = resolve));
      lane.open(id, target, compression, report);
    } else {
      this.decided = null;
      lane.open(id, target, compression);
    }
  }

  compression(): Promise<ObjectCompression> {
    if (!this.decided) return Promise.reject(new InternalError("compression() of an object opened without reportCompression"));
    return this.decided;
  }

  write(bytes: Uint8Array): Promise<void> | undefined {
    if (this.settled) throw new InternalError("write after end of object");
    this.size += bytes.length;
    let from = 0;
    while (from < bytes.length) {
      if (this.lane.load >= this.pool.maxBytesPerWorker) return this.writeLater(bytes, from);
      from += this.lane.append(this.id, bytes, from, this.pool.batchBytes);
    }
    return undefined;
  }

  private async writeLater(bytes: Uint8Array, from: number): Promise<void> {
    const lane = this.lane;
    while (from < bytes.length) {
      if (lane.load >= this.pool.maxBytesPerWorker) {
        await lane.room(bytes.length - from);
        if (this.pool.closed) throw new AbortedError("compress pool closed");
        continue;
      }
      from += lane.append(this.id, bytes, from, this.pool.batchBytes);
    }
  }

  end(suffix: ObjectSuffix): Promise<StoredObject> {
    if (this.settled) return Promise.reject(new InternalError("end of an object already ended"));
    this.settled = true;
    return new Promise<StoredObject>((resolve, reject) => {
      this.lane.end(this.id, suffix, {
        resolve: (o) => {
          this.pool.release();
          this.target.onStored?.(o);
          resolve(o);
        },
        reject: (e) => {
          this.pool.release();
          reject(e);
        },
        algorithm: this.target.algorithm,
        rootDir: this.target.rootDir,
        size: this.size,
      });
    });
  }

  abort(): Promise<void> {
    if (this.settled) return Promise.resolve();
    this.settled = true;
    return new Promise<void>((resolve) =>
      this.lane.drop(this.id, () => {
        this.pool.release();
        resolve();
      }),
    );
  }
}

const MiB = 1024 * 1024;
let shared: CompressPool | null = null;

/** See the module comment. */
export class CompressPool {
  readonly size: number;
  readonly maxBytesPerWorker: number;
  readonly batchBytes: number;
  readonly compressor: Compressor;
  closed = false;
  private readonly lanes: Lane[];
  private nextId = 1;
  private open = 0;

  constructor(opts: CompressPoolOptions = {}) {
    this.size = Math.max(1, opts.size ?? availableParallelism());
    this.batchBytes = opts.batchBytes ?? MiB;
    this.maxBytesPerWorker = Math.max(opts.maxBytesPerWorker ?? 32 * MiB, this.batchBytes);
    this.compressor = resolveCompressor(opts.compressor);
    this.lanes = Array.from({ length: this.size }, () => new Lane(this));
  }

  /** A process-wide pool, created on first use (again after it was closed). */
  static shared(): CompressPool {
    if (!shared || shared.closed) shared = new CompressPool();
    return shared;
  }

  /** Whether objects are open (workers are ref'd exactly then). */
  get busy(): boolean {
    return this.open > 0;
  }

  /** Start a new object on the least loaded worker. */
  openObject(target: ObjectTarget, opts: OpenObjectOptions = {}): ObjectWriter {
    if (this.closed) throw new AbortedError("compress pool closed");
    let lane = this.lanes[0] as Lane;
    for (const l of this.lanes) {
      if (l.load + l.pending.size < lane.load + lane.pending.size) lane = l;
    }
    if (this.open++ === 0) for (const l of this.lanes) l.worker.ref();
    return new PooledObject(this, lane, this.nextId++, target, opts);
  }

  /** Called once per object when it settles. */
  release(): void {
    if (--this.open === 0) for (const l of this.lanes) l.worker.unref();
  }

  /** Stop the workers. Objects not yet stored are rejected with `AbortedError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
    for (const l of this.lanes) l.wake(true);
  }
}
