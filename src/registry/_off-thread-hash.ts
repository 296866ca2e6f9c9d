/**
 * SHA-256/512 on a worker thread, so a large blob is hashed while the main thread keeps reading
 * the socket (hashing inline halves download throughput: sha256 runs at about the speed of a
 * loopback transfer). Chunks are copied into 1 MiB batches and transferred, not cloned; at most
 * `MAX_PENDING` bytes wait in the worker, after which `update()` asks the caller to wait.
 * One worker serves every hash of the process; it is unref'd, so it never keeps the process alive.
 */
import { Worker } from "node:worker_threads";

const BATCH = 1 << 20;
const MAX_PENDING = 8 << 20;

// Plain JS, run with `eval`, so it loads the same from sources (tsx, vitest) and from dist/.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const hashes = new Map();
parentPort.on("message", (m) => {
  try {
    if (m.op === "start") hashes.set(m.id, createHash(m.algo));
    else if (m.op === "update") { hashes.get(m.id).update(new Uint8Array(m.data)); parentPort.postMessage({ id: m.id, ack: m.data.byteLength }); }
    else if (m.op === "end") { const h = hashes.get(m.id); hashes.delete(m.id); parentPort.postMessage({ id: m.id, digest: h.digest("hex") }); }
  } catch (e) { parentPort.postMessage({ id: m.id, error: String(e && e.message || e) }); }
});
`;

interface Job {
  pending: number;
  wake?: () => void;
  done?: { resolve(hex: string): void; reject(err: Error): void };
  failed?: Error;
}

let worker: Worker | undefined;
const jobs = new Map<number, Job>();
let nextId = 1;

function getWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.unref();
  w.on("message", (m: { id: number; ack?: number; digest?: string; error?: string }) => {
    const job = jobs.get(m.id);
    if (!job) return;
    if (m.ack !== undefined) {
      job.pending -= m.ack;
      if (job.pending <= MAX_PENDING / 2 && job.wake) {
        const wake = job.wake;
        delete job.wake;
        wake();
      }
    } else if (m.digest !== undefined) {
      jobs.delete(m.id);
      job.done?.resolve(m.digest);
    } else {
      job.failed = new Error(`hash worker: ${m.error}`);
      jobs.delete(m.id);
      job.done?.reject(job.failed);
      job.wake?.();
    }
  });
  const fail = (err: Error) => {
    worker = undefined;
    for (const job of jobs.values()) {
      job.failed = err;
      job.done?.reject(err);
      job.wake?.();
    }
    jobs.clear();
  };
  w.on("error", fail);
  w.on("exit", (code) => fail(new Error(`hash worker exited with code ${code}`)));
  worker = w;
  return w;
}

/** An incremental hash computed on the shared worker thread. */
export class OffThreadHash {
  private readonly id = nextId++;
  private readonly job: Job = { pending: 0 };
  private batch = new Uint8Array(BATCH);
  private filled = 0;

  constructor(algo: "sha256" | "sha512") {
    jobs.set(this.id, this.job);
    getWorker().postMessage({ op: "start", id: this.id, algo });
  }

  /** Add bytes (copied). Returns a promise when the worker is behind: wait for it before more. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.job.failed) throw this.job.failed;
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, BATCH - this.filled);
      this.batch.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === BATCH) this.send();
    }
    if (this.job.pending <= MAX_PENDING) return undefined;
    return new Promise<void>((resolve) => {
      this.job.wake = resolve;
    });
  }

  /** The hex digest of everything added. */
  digest(): Promise<string> {
    if (this.job.failed) return Promise.reject(this.job.failed);
    if (this.filled > 0) this.send();
    return new Promise<string>((resolve, reject) => {
      this.job.done = { resolve, reject };
      getWorker().postMessage({ op: "end", id: this.id });
    });
  }

  /** Forget the job (stream destroyed before its end). */
  abandon(): void {
    if (!jobs.has(this.id)) return;
    jobs.delete(this.id);
    getWorker().postMessage({ op: "end", id: this.id });
  }

  private send(): void {
    const data = this.filled === BATCH ? this.batch.buffer : this.batch.buffer.slice(0, this.filled);
    this.job.pending += this.filled;
    getWorker().postMessage({ op: "update", id: this.id, data }, [data as ArrayBuffer]);
    this.batch = new Uint8Array(BATCH);
    this.filled = 0;
  }
}
