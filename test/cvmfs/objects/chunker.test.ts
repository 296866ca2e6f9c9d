import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { DEFAULT_CHUNKING, Xor32Chunker, findCutMarks, mightFindChunks, validateChunking } from "../../../src/cvmfs/objects/chunker.js";
import { blocks, cvmfsPrngBytes, seededBytes } from "./object-fixtures.js";

/** Cut marks published in CVMFS's T_ChunkDetectors.Xor32ChunkDetectorSlow (first 12 of them). */
const CVMFS_MARKS = [742752, 2790752, 3521796, 4188893, 4940543, 5884591, 7131564, 8520617, 9159233, 9999783, 11202120, 11778185];
const CVMFS_OPTS = { min: 512000, avg: 1024000, max: 2048000 };

function cutsInBlocks(bytes: Uint8Array, size: number, opts = CVMFS_OPTS): number[] {
  const c = new Xor32Chunker(opts);
  const cuts: number[] = [];
  for (const b of blocks(bytes, size)) cuts.push(...c.push(b));
  return cuts;
}

describe("Xor32Chunker", () => {
  const prng = cvmfsPrngBytes(11_800_000);

  it.each([102_400, 512_000, 7_919, prng.length])("reproduces CVMFS's cut marks with %i-byte blocks", (size) => {
    expect(cutsInBlocks(prng, size)).toEqual(CVMFS_MARKS);
  });

  it("cuts zeros at every max (no xor32 mark) but never at the very end", () => {
    const opts = { min: 1024, avg: 2048, max: 4096 };
    expect(findCutMarks(new Uint8Array(4096 * 5 + 100), opts)).toEqual([4096, 8192, 12288, 16384, 20480]);
    // A hard cut that would fall exactly at the end is not reported (no empty last chunk)...
    expect(findCutMarks(new Uint8Array(4096 * 2), opts)).toEqual([4096]);
    // ...but is, once the next byte arrives in a later block.
    const c = new Xor32Chunker(opts);
    expect(c.push(new Uint8Array(4096))).toEqual([]);
    expect(c.push(new Uint8Array(1))).toEqual([4096]);
    expect(c.offset).toBe(4097);
  });

  it("treats a register of 0xFFFFFFFF as a mark, as the C++ int32 abs(INT32_MIN) does", () => {
    // 0x80 bytes drive the register to 0xFFFFFF80, then 0xFF makes it 0xFFFFFFFF; with T = 1
    // nothing else can hit.
    const data = new Uint8Array(51).fill(0x80, 0, 40);
    data[40] = 0xff;
    expect(findCutMarks(data, { min: 32, avg: 2 ** 31, max: 2 ** 32 })).toEqual([40]);
  });

  it("keeps every chunk within min..max except the last", () => {
    const opts = { min: 4096, avg: 8192, max: 16384 };
    const data = seededBytes(4 << 20, 5);
    const cuts = findCutMarks(data, opts);
    expect(cuts.length).toBeGreaterThan(100);
    const bounds = [0, ...cuts, data.length];
    for (let i = 1; i < bounds.length - 1; i++) {
      const size = (bounds[i] as number) - (bounds[i - 1] as number);
      expect(size).toBeGreaterThanOrEqual(opts.min);
      expect(size).toBeLessThanOrEqual(opts.max);
    }
    expect(cutsInBlocks(data, 1000, opts)).toEqual(cuts);
  });

  it("finds the same marks after an insertion near the start (content-defined)", () => {
    const opts = { min: 4096, avg: 8192, max: 16384 };
    const data = seededBytes(1 << 20, 9);
    const inserted = Buffer.concat([data.subarray(0, 100), Buffer.from("inserted bytes"), data.subarray(100)]);
    const before = findCutMarks(data, opts);
    const after = new Set(findCutMarks(inserted, opts).map((p) => p - 14));
    const kept = before.filter((p) => after.has(p));
    expect(kept.length).toBeGreaterThanOrEqual(before.length - 3);
  });

  it("only chunks files larger than min", () => {
    expect(mightFindChunks(DEFAULT_CHUNKING.min, DEFAULT_CHUNKING)).toBe(false);
    expect(mightFindChunks(DEFAULT_CHUNKING.min + 1, DEFAULT_CHUNKING)).toBe(true);
    const opts = { min: 4096, avg: 8192, max: 16384 };
    expect(findCutMarks(seededBytes(4096, 2), opts)).toEqual([]);
  });

  it.each([
    { min: 16, avg: 64, max: 128 },
    { min: 4096, avg: 4096, max: 8192 },
    { min: 4096, avg: 8192, max: 8192 },
    { min: 4096.5, avg: 8192, max: 16384 },
  ])("rejects bounds %j", (opts) => {
    expect(() => validateChunking(opts)).toThrow(ConfigError);
  });
});
