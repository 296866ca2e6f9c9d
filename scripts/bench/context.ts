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
