import { Worker } from "node:worker_threads";
import { AbortedError, InternalError, RepositoryError } from "../../errors.js";
import type { ObjectCompression, ObjectTarget, StoredObject } from "./object-target.js";
import type { Compressor } from "./compressor.js";
import { COMPRESS_WORKER_SOURCE } from "./compress-worker-source.js";
import type { HashAlgorithm, ObjectSuffix } from "../../content/content-store.js";
import { HASH_ALGORITHM_IDS, nodeHashName } from "./hash.js";
import { debrisPrefix } from "../../debris.js";

/**
 * One worker of the compress pool and the batch being filled for it: ops and content bytes are
 * collected here and sent as one message (protocol in compress-worker-source.ts).
 *
 * Batching: a partly filled batch is sent at the next turn of the event loop only while the
 * worker has fewer than PIPELINE messages to work on; otherwise it keeps filling and goes out
 * when a reply comes back (or when it is full). A busy worker thus gets few, full messages, an
 * idle one gets work at once, and the per-message costs (structured clone, slab, wake-ups) stay
 * small next to the work however many small objects are in flight.
 *
 * Memory: a partly filled slab only leaves while fewer than PIPELINE messages are out, every
 * other message carries a full slab counted against `maxBytesPerWorker`, and slabs come back
 * for reuse, never dropped: a lane owns at most `maxBytesPerWorker` plus PIPELINE + 1 slabs,
 * whatever the file sizes and however many objects are open (no allocation churn for the
 * garbage collector to catch up with, so RSS stays flat).
 */

/** What a lane needs to know of its pool. */
export interface LaneOwner {
  readonly busy: boolean;
  readonly closed: boolean;
  readonly maxBytesPerWorker: number;
  readonly compressor: Compressor;
}

/** A worker's answer to one batch. */
interface Reply {
  bytes: number;
  slab: ArrayBuffer | null;
  done: Array<[number, string, number, number, number]>;
  failed: Array<[number, string]>;
  dropped: number[];
  /** `[id, none]`: objects opened with a wish to learn their compression before their end. */
  decided: Array<[number, number]>;
}

/** An ended object waiting for its worker to report it stored. */
export interface Pending {
  resolve(o: StoredObject): void;
  reject(e: Error): void;
  algorithm: HashAlgorithm;
  rootDir: string;
  size: number;
}

/** Messages a worker has queued before partly filled batches are held back. */
const PIPELINE = 2;

const OPEN = 0;
const DATA = 1;
const END = 2;
const DROP = 3;

/** Compression modes of an OPEN op (see compress-worker-source.ts). */
const MODE: Readonly<Record<ObjectCompression | "auto", number>> = { auto: 0, zlib: 1, none: 2 };
const REPORT = 4;

/** One worker and its current batch. */
export class Lane {
  worker: Worker;
  /** Current batch: ops as 4 numbers each, content bytes in the slab. */
  private ops = new Float64Array(1024);
  private n = 0;
  private slab: Uint8Array | null = null;
  private used = 0;
  /** Content bytes in the current batch, and sent but not yet acknowledged. */
  queued = 0;
  inFlight = 0;
  /** Messages sent and not yet answered. */
  private sent = 0;
  private newTargets: Array<[number, string, string, string]> = [];
  private readonly targets = new Map<string, number>();
  private readonly spare: ArrayBuffer[] = [];
  readonly pending = new Map<number, Pending>();
  readonly dropping = new Map<number, () => void>();
  /** Objects whose compression someone awaits before their end. */
  private readonly deciding = new Map<number, (c: ObjectCompression) => void>();
  /** Writers waiting for room, first come first served, with the bytes each still has to write. */
  private waiters: Array<{ bytes: number; resume: () => void }> = [];
  private scheduled = false;

  constructor(private readonly pool: LaneOwner) {
    this.worker = this.spawn();
  }

  get load(): number {
    return this.queued + this.inFlight;
  }

  private spawn(): Worker {
    // No inherited execArgv: loaders such as tsx or `--input-type` have nothing to do here.
    // Temp files get debris names (debris.ts), so the next run can sweep them should this process die.
    const { addon, level } = this.pool.compressor;
    const w = new Worker(COMPRESS_WORKER_SOURCE, { eval: true, execArgv: [], workerData: { tmpPrefix: debrisPrefix("obj"), libdeflate: addon, level } });
    w.on("message", (m: Reply) => this.onReply(m));
    w.on("error", (err) => this.onDeath(w, err));
    w.on("exit", (code) => this.onDeath(w, new InternalError(`compress worker exited with code ${code}`)));
    if (!this.pool.busy) w.unref();
    this.targets.clear();
    return w;
  }

  private op(k: number, id: number, a: number, b: number): void {
    if (this.n * 4 === this.ops.length) {
      const grown = new Float64Array(this.ops.length * 2);
      grown.set(this.ops);
      this.ops = grown;
    }
    const i = this.n++ * 4;
    this.ops[i] = k;
    this.ops[i + 1] = id;
    this.ops[i + 2] = a;
    this.ops[i + 3] = b;
  }

  /**
   * Open an object: `compression` "auto" lets the worker decide (incompressible.ts); `onDecided`
   * learns the decision as soon as it is made, before the object's end.
   */
  open(id: number, target: ObjectTarget, compression: ObjectCompression | "auto", onDecided?: (c: ObjectCompression) => void): void {
    const key = `${target.algorithm}:${target.rootDir}`;
    let t = this.targets.get(key);
    if (t === undefined) {
      t = this.targets.size;
      this.targets.set(key, t);
      this.newTargets.push([t, target.rootDir, nodeHashName(target.algorithm), HASH_ALGORITHM_IDS[target.algorithm]]);
    }
    if (onDecided) this.deciding.set(id, onDecided);
    this.op(OPEN, id, t, MODE[compression] | (onDecided ? REPORT : 0));
    this.schedule();
  }

  end(id: number, suffix: ObjectSuffix, pending: Pending): void {
    this.pending.set(id, pending);
    this.op(END, id, suffix === "" ? 0 : suffix.charCodeAt(0), 0);
    this.schedule();
  }

  drop(id: number, done: () => void): void {
    this.dropping.set(id, done);
    this.op(DROP, id, 0, 0);
    this.schedule();
  }

  /** Copy as much of `bytes[from..]` as fits into the current slab; returns the count copied. */
  append(id: number, bytes: Uint8Array, from: number, batchBytes: number): number {
    if (!this.slab) {
      let buf = this.spare.pop();
      while (buf && buf.byteLength < batchBytes) buf = this.spare.pop();
      this.slab = new Uint8Array(buf ?? new ArrayBuffer(batchBytes));
      this.used = 0;
    }
    const n = Math.min(bytes.length - from, this.slab.length - this.used);
    this.slab.set(n === bytes.length ? bytes : bytes.subarray(from, from + n), this.used);
    // Consecutive writes of one object extend its last data op.
    const last = (this.n - 1) * 4;
    if (this.n > 0 && this.ops[last] === DATA && this.ops[last + 1] === id && (this.ops[last + 2] as number) + (this.ops[last + 3] as number) === this.used) {
      (this.ops[last + 3] as number) += n;
    } else {
      this.op(DATA, id, this.used, n);
    }
    this.used += n;
    this.queued += n;
    if (this.used === this.slab.length) this.flush();
    else this.schedule();
    return n;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      // A busy worker gets this batch with its next reply, fuller.
      if (this.sent < PIPELINE) this.flush();
    });
  }

  flush(): void {
    if (this.n === 0) return;
    const slab = this.slab ? (this.slab.buffer as ArrayBuffer) : null;
    const ops = this.ops.buffer as ArrayBuffer;
    const transfer = slab ? [ops, slab] : [ops];
    this.worker.postMessage({ targets: this.newTargets, ops, n: this.n, slab }, transfer);
    this.sent++;
    this.inFlight += this.queued;
    this.queued = 0;
    this.newTargets = [];
    this.ops = new Float64Array(Math.max(1024, Math.min(this.n * 4, 1 << 16)));
    this.n = 0;
    this.slab = null;
    this.used = 0;
  }

  private onReply(m: Reply): void {
    this.sent--;
    this.inFlight -= m.bytes;
    if (m.slab) this.spare.push(m.slab);
    for (const [id, none] of m.decided) this.decided(id, none === 1 ? "none" : "zlib");
    for (const [id, hex, storedSize, written, none] of m.done) {
      const compression = none === 1 ? "none" : "zlib";
      this.decided(id, compression);
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      p.resolve({ hash: hex + HASH_ALGORITHM_IDS[p.algorithm], storedSize, size: p.size, written: written === 1, compression });
    }
    for (const [id, message] of m.failed) {
      this.decided(id, "zlib");
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      p.reject(new RepositoryError(`store object under ${p.rootDir}: ${message}`));
    }
    for (const id of m.dropped) {
      this.deciding.delete(id);
      this.dropping.get(id)?.();
      this.dropping.delete(id);
    }
    if (this.sent < PIPELINE) this.flush();
    this.wake();
  }

  private decided(id: number, c: ObjectCompression): void {
    const f = this.deciding.get(id);
    if (!f) return;
    this.deciding.delete(id);
    f(c);
  }

  /** Wait until the lane has room (or is closed or replaced). */
  room(bytes: number): Promise<void> {
    // With messages out, a reply comes and sends this batch; else it must go now.
    if (this.sent < PIPELINE) this.flush();
    return new Promise<void>((resume) => this.waiters.push({ bytes, resume }));
  }

  /**
   * Resume waiting writers in order, as many as the free room is likely to take: waking all of
   * them would have most go straight back to waiting, at a cost per reply that grows with their
   * number.
   */
  wake(all = false): void {
    let room = this.pool.maxBytesPerWorker - this.load;
    while (this.waiters.length > 0 && (all || room > 0)) {
      const w = this.waiters.shift() as { bytes: number; resume: () => void };
      room -= w.bytes;
      w.resume();
    }
  }

  private onDeath(w: Worker, err: Error): void {
    if (w !== this.worker) return;
    const pending = [...this.pending.values()];
    this.pending.clear();
    this.n = 0;
    this.newTargets = [];
    this.slab = null;
    this.used = 0;
    this.queued = 0;
    this.inFlight = 0;
    this.sent = 0;
    const cause = this.pool.closed ? new AbortedError("compress pool closed", { cause: err }) : err;
    for (const p of pending) p.reject(cause);
    for (const d of this.dropping.values()) d();
    this.dropping.clear();
    // Whoever waits for a decision goes on; the object's end reports the failure.
    for (const f of this.deciding.values()) f("zlib");
    this.deciding.clear();
    if (!this.pool.closed) this.worker = this.spawn();
    this.wake(true);
  }
}
