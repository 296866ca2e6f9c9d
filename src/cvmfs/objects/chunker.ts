import { ConfigError } from "../../errors.js";

/**
 * Content-defined chunking with CVMFS's xor32 rolling checksum (cvmfs-formats.md §2,
 * `Xor32Detector` in cvmfs/ingestion/chunk_detector.{h,cc}). Cut marks only decide how well
 * objects deduplicate (any boundaries give a valid repository), but reproducing CVMFS's exact
 * marks means a file published by us and by `cvmfs_server` shares its chunks.
 *
 * How the detector behaves, as read from the CVMFS source:
 * - The checksum is a uint32 `x = (x << 1) ^ byte`; after 32 shifts a byte has left the register,
 *   so `x` depends on the last 32 bytes only and no explicit window is kept.
 * - After a cut (and at the start of a file) `x` is reset to 0 and nothing is looked at until
 *   `last_cut + min - 32`. The 32 bytes before `last_cut + min` only warm the register up; from
 *   `last_cut + min` on, every byte is folded in and then the register is tested.
 * - The test is `abs(int32(x) - 0x7FFFFFFF) < T` with `T = floor(0xFFFFFFFF / avg)`, evaluated in
 *   32-bit two's complement arithmetic: the subtraction wraps, so registers just above 0x80000000
 *   hit as well as those just below 0x7FFFFFFF, and `abs(INT32_MIN)` stays negative (a hit).
 *   The wrapping is what the stock binaries do: the detector's published test vector (seeded
 *   LCG data, min/avg/max 512000/1024000/2048000) only comes out with it.
 * - When the byte at position `i` makes the test hit, the cut mark is `i`: the chunk is
 *   `[last_cut, i)` and the byte that triggered the mark starts the next chunk.
 * - With no hit, a hard cut falls at `last_cut + max`, so every chunk is `min..max` bytes, except
 *   the last, which is whatever remains.
 * - Input block boundaries do not matter: the register and the scan position carry over.
 * One deliberate difference: CVMFS can report a hard cut exactly at the end of the data (leaving
 * an empty last chunk); here a cut is only reported in front of a byte that exists.
 */

/** Chunk size bounds in bytes. */
export interface ChunkingOptions {
  min: number;
  avg: number;
  max: number;
}

/** CVMFS defaults: `CVMFS_MIN/AVG/MAX_CHUNK_SIZE` = 4, 8, 16 MiB. */
export const DEFAULT_CHUNKING: Readonly<ChunkingOptions> = Object.freeze({
  min: 4 * 1024 * 1024,
  avg: 8 * 1024 * 1024,
  max: 16 * 1024 * 1024,
});

/** The register only depends on this many trailing bytes. */
export const XOR32_WINDOW = 32;
const MAGIC = 0x7fffffff;

/** Throws `ConfigError` unless `XOR32_WINDOW <= min < avg < max` (as CVMFS asserts). */
export function validateChunking(opts: ChunkingOptions): ChunkingOptions {
  const { min, avg, max } = opts;
  const ints = [min, avg, max].every((v) => Number.isSafeInteger(v));
  if (!ints || min < XOR32_WINDOW || !(min < avg && avg < max)) {
    throw new ConfigError(`invalid chunk sizes min=${min} avg=${avg} max=${max}: need ${XOR32_WINDOW} <= min < avg < max`);
  }
  return opts;
}

/** Whether a file of `size` bytes can be cut at all (`MightFindChunks`: only files larger than min). */
export function mightFindChunks(size: number, opts: ChunkingOptions): boolean {
  return size > opts.min;
}

/**
 * Streaming cut-mark detector: feed a file's bytes in order with `push`, in blocks of any size;
 * it returns the absolute offsets at which a new chunk starts. Keeps 3 numbers of state, never
 * the data.
 */
export class Xor32Chunker {
  private readonly min: number;
  private readonly max: number;
  private readonly threshold: number;
  private lastCut = 0;
  /** Absolute offset of the next byte to fold into the register. */
  private next: number;
  private consumed = 0;
  private x = 0;

  constructor(opts: ChunkingOptions = DEFAULT_CHUNKING) {
    validateChunking(opts);
    this.min = opts.min;
    this.max = opts.max;
    // uint32 max divided in unsigned arithmetic, then held as int32: fits for any avg > 1.
    this.threshold = Math.floor(0xffffffff / opts.avg);
    this.next = opts.min - XOR32_WINDOW;
  }

  /** Bytes pushed so far. */
  get offset(): number {
    return this.consumed;
  }

  /**
   * Feed the next `bytes` of the file. Returns the cut marks that fall inside them, in increasing
   * order, as absolute offsets `p` with `offset <= p < offset + bytes.length`.
   */
  push(bytes: Uint8Array): number[] {
    const base = this.consumed;
    const n = bytes.length;
    const cuts: number[] = [];
    // |wrap32(x - MAGIC)| < T  <=>  -(T-1) <= d <= T-1  <=>  uint32(x + K) < R, with
    // K = T - 1 - MAGIC and R = 2T - 1; plus d == INT32_MIN (x == 0xFFFFFFFF), whose abs stays
    // negative. One unsigned compare per byte instead of a signed abs: several times faster.
    const K = (this.threshold - 1 - MAGIC) | 0;
    const R = 2 * this.threshold - 1;
    let x = this.x;
    let i = this.next - base;
    while (i < n) {
      const warmEnd = this.lastCut + this.min - base;
      if (i < warmEnd) {
        const end = warmEnd < n ? warmEnd : n;
        for (; i < end; i++) x = ((x << 1) ^ (bytes[i] as number)) | 0;
        continue;
      }
      const hard = this.lastCut + this.max - base;
      let cut = -1;
      if (i >= hard) {
        cut = hard;
      } else {
        const end = hard < n ? hard : n;
        for (; i < end; i++) {
          x = (x << 1) ^ (bytes[i] as number);
          if (((x + K) >>> 0) < R || x === -1) {
            cut = i;
            break;
          }
        }
        // Ran into the hard limit with a byte there to start the next chunk.
        if (cut < 0 && i === hard && i < n) cut = hard;
      }
      if (cut < 0) break;
      cuts.push(base + cut);
      this.lastCut = base + cut;
      x = 0;
      i = cut + this.min - XOR32_WINDOW;
    }
    this.x = x;
    this.next = base + i;
    this.consumed = base + n;
    return cuts;
  }
}

/** All cut marks of a whole buffer (for tests and small inputs). */
export function findCutMarks(bytes: Uint8Array, opts: ChunkingOptions = DEFAULT_CHUNKING): number[] {
  return new Xor32Chunker(opts).push(bytes);
}
