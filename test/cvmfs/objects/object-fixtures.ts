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
