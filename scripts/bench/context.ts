import { RepositoryReader } from "../../src/cvmfs/repository/repository-reader.js";

/** What each scripts/bench/<area>.bench.ts receives: `export async function run(ctx: BenchContext)`. */
export interface Figure {
  name: string;
  value: number | string;
  unit: string;
  /** The goal as text, e.g. "≥ 0.9". */
  goal?: string;
  bench?: string;
}

export interface BenchContext {
  /** A fresh scratch directory on /dev/shm (removed afterwards). */
  scratch: string;
  figure(figure: Figure): void;
  note(text: string): void;
}

/** Peak RSS sampler: call stop() to get the largest RSS growth seen since start, in bytes. */
export function sampleRss(intervalMs = 20): { stop(): number } {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return peak - base;
    },
  };
}

export const MiB = 1024 * 1024;
export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** A deterministic xorshift32 stream of unsigned 32-bit numbers, so a seed replays a run. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** The revision a local stratum 0 publishes now (to count the revisions a run added). */
export async function publishedRevision(stratum0: string, fqrn: string): Promise<number> {
  const reader = await RepositoryReader.open({ dir: stratum0 }, { fqrn });
  try {
    return reader.manifest.revision;
  } finally {
    await reader.close();
  }
}
