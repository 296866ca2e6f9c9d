import { endianness } from "node:os";
import type { Md5Key } from "./md5-path.js";

/**
 * MD5 path keys in bulk (the same keys as `md5PathKey`, cvmfs-formats.md §3 "Paths and MD5
 * keys"), for writing a whole image's catalogs. A call into `node:crypto` costs about a
 * microsecond whatever the input, which is most of the price of a short path, and every path of
 * an image starts with the same 73-byte image directory. So MD5 (RFC 1321) runs here in
 * JavaScript, and each directory keeps the state after the 64-byte blocks its path fills: a
 * child's key then costs the one or two blocks left, not the whole path.
 *
 * Keys come out as four 32-bit words (digest bytes 0–3, 4–7, 8–11, 12–15, each little-endian),
 * which sort without allocating; {@link int64Reader} turns them into the two int64 columns.
 */

/** The sine table of RFC 1321 §3.4 (the tests hold every key against `node:crypto`). */
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32));
const INIT = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476);
const W = new Int32Array(16);

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** One 64-byte block at `buf[off…]` into `st` (RFC 1321 §3.4). */
function md5Block(st: Int32Array, buf: Uint8Array, off: number): void {
  for (let j = 0; j < 16; j++) {
    const o = off + 4 * j;
    W[j] = (buf[o] as number) | ((buf[o + 1] as number) << 8) | ((buf[o + 2] as number) << 16) | ((buf[o + 3] as number) << 24);
  }
  let a = st[0] as number;
  let b = st[1] as number;
  let c = st[2] as number;
  let d = st[3] as number;
  for (let i = 0; i < 16; i += 4) {
    a = (b + rotl((a + ((b & c) | (~b & d)) + (K[i] as number) + (W[i] as number)) | 0, 7)) | 0;
    d = (a + rotl((d + ((a & b) | (~a & c)) + (K[i + 1] as number) + (W[i + 1] as number)) | 0, 12)) | 0;
    c = (d + rotl((c + ((d & a) | (~d & b)) + (K[i + 2] as number) + (W[i + 2] as number)) | 0, 17)) | 0;
    b = (c + rotl((b + ((c & d) | (~c & a)) + (K[i + 3] as number) + (W[i + 3] as number)) | 0, 22)) | 0;
  }
  for (let i = 16; i < 32; i += 4) {
    a = (b + rotl((a + ((b & d) | (c & ~d)) + (K[i] as number) + (W[(5 * i + 1) & 15] as number)) | 0, 5)) | 0;
    d = (a + rotl((d + ((a & c) | (b & ~c)) + (K[i + 1] as number) + (W[(5 * i + 6) & 15] as number)) | 0, 9)) | 0;
    c = (d + rotl((c + ((d & b) | (a & ~b)) + (K[i + 2] as number) + (W[(5 * i + 11) & 15] as number)) | 0, 14)) | 0;
    b = (c + rotl((b + ((c & a) | (d & ~a)) + (K[i + 3] as number) + (W[(5 * i + 16) & 15] as number)) | 0, 20)) | 0;
  }
  for (let i = 32; i < 48; i += 4) {
    a = (b + rotl((a + (b ^ c ^ d) + (K[i] as number) + (W[(3 * i + 5) & 15] as number)) | 0, 4)) | 0;
    d = (a + rotl((d + (a ^ b ^ c) + (K[i + 1] as number) + (W[(3 * i + 8) & 15] as number)) | 0, 11)) | 0;
    c = (d + rotl((c + (d ^ a ^ b) + (K[i + 2] as number) + (W[(3 * i + 11) & 15] as number)) | 0, 16)) | 0;
    b = (c + rotl((b + (c ^ d ^ a) + (K[i + 3] as number) + (W[(3 * i + 14) & 15] as number)) | 0, 23)) | 0;
  }
  for (let i = 48; i < 64; i += 4) {
    a = (b + rotl((a + (c ^ (b | ~d)) + (K[i] as number) + (W[(7 * i) & 15] as number)) | 0, 6)) | 0;
    d = (a + rotl((d + (b ^ (a | ~c)) + (K[i + 1] as number) + (W[(7 * i + 7) & 15] as number)) | 0, 10)) | 0;
    c = (d + rotl((c + (a ^ (d | ~b)) + (K[i + 2] as number) + (W[(7 * i + 14) & 15] as number)) | 0, 15)) | 0;
    b = (c + rotl((b + (d ^ (c | ~a)) + (K[i + 3] as number) + (W[(7 * i + 21) & 15] as number)) | 0, 21)) | 0;
  }
  st[0] = ((st[0] as number) + a) | 0;
  st[1] = ((st[1] as number) + b) | 0;
  st[2] = ((st[2] as number) + c) | 0;
  st[3] = ((st[3] as number) + d) | 0;
}

/** A directory as a prefix of its children's paths: `path + "/"`, hashed up to its last full block. */
export interface PathPrefix {
  /** UTF-8 bytes of the directory's path and a slash. */
  readonly bytes: Uint8Array;
  /** MD5 state after the first `blocks` 64-byte blocks of `bytes`. */
  readonly state: Int32Array;
  readonly blocks: number;
}

const encoder = new TextEncoder();
const EMPTY_PREFIX: PathPrefix = { bytes: new Uint8Array(0), state: INIT, blocks: 0 };

/** Computes path keys into a caller's word array; one instance per writer (it has scratch space). */
export class PathKeys {
  private buf = new Uint8Array(4096);
  private readonly st = new Int32Array(4);

  /** The prefix of a directory's children; `path` is a catalog path (`""` for the root). */
  prefix(path: string): PathPrefix {
    return this.prefixOf(encoder.encode(`${path}/`));
  }

  /** The prefix of the directory `name` inside the directory of prefix `parent`. */
  childPrefix(parent: PathPrefix, name: string): PathPrefix {
    const nameBytes = encoder.encode(name);
    const bytes = new Uint8Array(parent.bytes.length + nameBytes.length + 1);
    bytes.set(parent.bytes, 0);
    bytes.set(nameBytes, parent.bytes.length);
    bytes[bytes.length - 1] = 0x2f;
    return this.prefixOf(bytes, parent);
  }

  /** Writes the key of `prefix + name` to `out[at…at+4)`. */
  keyOf(prefix: PathPrefix, name: string, out: Int32Array, at: number): void {
    const done = prefix.blocks * 64;
    const tail = prefix.bytes.length - done;
    let buf = this.buf;
    // Worst case: 3 bytes of UTF-8 per UTF-16 unit, plus padding.
    if (tail + name.length * 3 + 72 > buf.length) buf = this.buf = new Uint8Array(2 * (tail + name.length * 3 + 72));
    // A loop, not set(subarray): no view object per key for fewer than 64 bytes.
    const bytes = prefix.bytes;
    for (let i = 0; i < tail; i++) buf[i] = bytes[done + i] as number;
    let n = tail;
    for (let i = 0; i < name.length; i++) {
      const ch = name.charCodeAt(i);
      if (ch >= 0x80) {
        n = tail + encoder.encodeInto(name, buf.subarray(tail)).written;
        break;
      }
      buf[n++] = ch;
    }
    const st = this.st;
    st.set(prefix.state);
    this.finish(st, n, done + n);
    out.set(st, at);
  }

  /** The key of a whole catalog path. */
  keyOfPath(path: string, out: Int32Array, at: number): void {
    // The root's key is MD5 of the empty string: a prefix of no bytes.
    if (path === "") {
      this.keyOf(EMPTY_PREFIX, "", out, at);
      return;
    }
    const slash = path.lastIndexOf("/");
    this.keyOf(this.prefix(path.slice(0, slash)), path.slice(slash + 1), out, at);
  }

  /** Pads and hashes `buf[0…n)`, the last part of a message of `total` bytes, into `st`. */
  private finish(st: Int32Array, n: number, total: number): void {
    const buf = this.buf;
    let len = n;
    buf[len++] = 0x80;
    while ((len & 63) !== 56) buf[len++] = 0;
    // Length in bits, 64-bit little-endian; paths never reach 2^29 bytes.
    const bits = total * 8;
    for (let shift = 0; shift < 64; shift += 8) buf[len++] = shift < 32 ? (bits >>> shift) & 0xff : 0;
    for (let off = 0; off < len; off += 64) md5Block(st, buf, off);
  }

  private prefixOf(bytes: Uint8Array, from: PathPrefix = EMPTY_PREFIX): PathPrefix {
    const blocks = bytes.length >>> 6;
    if (blocks === from.blocks) return { bytes, state: from.state, blocks };
    const state = Int32Array.from(from.state);
    for (let b = from.blocks; b < blocks; b++) md5Block(state, bytes, b * 64);
    return { bytes, state, blocks };
  }
}

const littleEndian = endianness() === "LE";

/**
 * Reads the int64 columns of keys in `words`: `read(w)` is the value of words `w` (low) and
 * `w + 1` (high), `w` even — `read(4 * i)` is `md5path_1` of key `i`, `read(4 * i + 2)` its
 * `md5path_2`, as `md5KeyOfDigest` gives them.
 */
export function int64Reader(words: Int32Array): (w: number) => bigint {
  if (littleEndian) {
    // The words hold the digest bytes in memory order here, so an int64 view reads the columns.
    const view = new BigInt64Array(words.buffer, words.byteOffset, words.length >>> 1);
    return (w) => view[w >>> 1] as bigint;
  }
  return (w) => BigInt.asIntN(64, (BigInt(words[w + 1] as number) << 32n) | BigInt((words[w] as number) >>> 0));
}

/** The key at `words[4 * i…4 * i + 4)` as an {@link Md5Key}. */
export function keyAt(words: Int32Array, i: number): Md5Key {
  const read = int64Reader(words);
  return [read(4 * i), read(4 * i + 2)];
}
