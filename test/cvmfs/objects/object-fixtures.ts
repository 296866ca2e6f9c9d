import type { HashAlgorithm } from "../../../src/content/content-store.js";
import { deflateWith, resolveCompressor, type Compressor } from "../../../src/cvmfs/objects/compressor.js";
import { hashBytes } from "../../../src/cvmfs/objects/hash.js";
import { compressedFormatOf, MIN_SHRINK, SAMPLE_BYTES } from "../../../src/cvmfs/objects/incompressible.js";
import type { ObjectCompression } from "../../../src/cvmfs/objects/object-target.js";
/**
 * Deterministic test data for the object tests: fast seeded bytes, and the LCG that CVMFS's own
 * chunk-detector test uses (so its published cut marks can be checked here).
 */

/** `n` pseudo-random bytes from a xorshift32 seeded with `seed` (fast: 4 bytes per step). */
export function seededBytes(n: number, seed = 1): Buffer {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer, 0, n);
}

/** Text-like bytes that compress well, of exactly `n` bytes. */
export function textBytes(n: number, seed = 1): Buffer {
  const words = ["lorem", "ipsum", "dolor", "sit", "amet", "usr", "lib", "share", "bin", "etc", "python3"];
  const parts: string[] = [];
  let len = 0;
  let i = seed;
  while (len < n) {
    const line = `${words[i % words.length]}/${words[(i * 7) % words.length]} ${i} ${(i * 2654435761) % 1000}\n`;
    parts.push(line);
    len += line.length;
    i++;
  }
  return Buffer.from(parts.join("")).subarray(0, n);
}

/** Bytes from CVMFS's `Prng` (MMIX LCG) with `Next(256)` per byte, as its unit tests make them. */
export function cvmfsPrngBytes(n: number, seed = 42n): Uint8Array {
  const out = new Uint8Array(n);
  const a = 6364136223846793005n;
  const c = 1442695040888963407n;
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = BigInt.asUintN(64, a * s + c);
    // uint64 → double rounds to nearest, as the C++ static_cast does; then scale to [0, 256].
    out[i] = Math.floor((Number(s) * 256) / 2 ** 64) % 256;
  }
  return out;
}

/** Feed `bytes` in blocks of `size`. */
export function* blocks(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, Math.min(bytes.length, o + size));
}

/**
 * What the compress workers store for `content` as a whole object: the reference rules of
 * incompressible.ts (magic bytes; else the whole content when shorter than the sample, or the
 * sample deflated at level 1; kept raw when it shrinks by less than MIN_SHRINK), written out
 * here independently of the worker so the two are checked against each other.
 */
export function expectedObject(content: Uint8Array, algo: HashAlgorithm, compressor: Compressor): { compression: ObjectCompression; bytes: Buffer; hash: string } {
  const keep = 1 - MIN_SHRINK;
  let none = false;
  if (content.length === 0) none = false;
  else if (compressedFormatOf(content.subarray(0, 16)) !== null) none = true;
  else if (content.length < SAMPLE_BYTES) none = deflateWith(compressor, content).length > content.length * keep;
  else none = deflateWith(compressor, content.subarray(0, SAMPLE_BYTES), 1).length > SAMPLE_BYTES * keep;
  const bytes = none
    ? Buffer.from(content)
    : content.length === 0
      ? Buffer.from("789c030000000001", "hex")
      : deflateWith(compressor, content);
  return { compression: none ? "none" : "zlib", bytes, hash: hashBytes(bytes, algo) };
}

/** The compressors a test can run with: zlib always, libdeflate when its addon is built. */
export function availableCompressors(): Compressor[] {
  const auto = resolveCompressor("auto");
  return auto.name === "libdeflate" ? [resolveCompressor("zlib"), auto] : [auto];
}
