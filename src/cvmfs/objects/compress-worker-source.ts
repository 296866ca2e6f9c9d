import { COMPRESSED_MAGIC, MIN_SHRINK, SAMPLE_BYTES } from "./incompressible.js";

/**
 * Source of one compress-pool worker, started with `new Worker(source, { eval: true })`. It is
 * plain JavaScript in a string so that the same code runs from `src/` under vitest/tsx (where a
 * worker cannot load a `.ts` file) and from `dist/` after `tsc` (which copies no `.js` files).
 *
 * Protocol (one message each way per batch; compress-pool.ts is the other end):
 * - in: `{ targets, ops, n, slab }`. `targets` (usually empty) registers `[index, dir, algo,
 *   algoId]` store targets once. `ops` is a transferred Float64Array buffer of `n` ops of 4 numbers
 *   each, applied in order: `[0,id,target,mode]` open an object, `[1,id,off,len]` content bytes at
 *   `slab[off, off+len)`, `[2,id,suffixCharCode|0,0]` finish it, `[3,id,0,0]` drop it. `mode` is
 *   0 to decide (incompressible.ts), 1 zlib, 2 none, plus 4 to report an early decision. `slab` is
 *   a transferred ArrayBuffer holding this batch's content bytes. Numbers in buffers, not objects,
 *   because cloning hundreds of small objects per batch showed up on the main thread.
 * - out: `{ bytes, slab, done, failed, dropped, decided }` — `bytes` of content consumed, the
 *   slab handed back for reuse, `done` = `[id, hex, storedSize, written, none]`, `failed` =
 *   `[id, message]`, `dropped` = ids whose drop is complete (temp file removed), `decided` =
 *   `[id, none]` for objects that asked (mode bit 4) and were decided before their end.
 *
 * Compressors (workerData): libdeflate through the addon at `workerData.libdeflate` (whole
 * buffers only, so an object's input is held until its end, up to WHOLE_MAX), else node:zlib at
 * Z_DEFAULT_COMPRESSION fed incrementally through the zlib handle's synchronous `writeSync` — the
 * primitive `zlib.deflateSync` is built on — so one context per object streams without ever
 * holding the object whole. Either way the output is a zlib stream with its RFC 1950 header.
 *
 * Input of an object is held back until SAMPLE bytes have arrived or it ends: the compression
 * decision is made there, and small objects take a deflate context only for the moment they are
 * compressed. Output stays in memory up to SPILL bytes (hashed at the end, in one call), then goes
 * to a temp file in `data/txn` (hashed as it is written). At the end the hash names the object:
 * if `data/xx/…` already exists nothing is written (or the spilled temp file is removed), else the
 * bytes land in a temp file that is renamed into place, so readers never see a partial object.
 * Deflate contexts are reset and reused: setting one up costs as much as compressing a small file.
 */
export const COMPRESS_WORKER_SOURCE = String.raw`
"use strict";
// getBuiltinModule works whether the eval'd source is taken as a script or as a module.
const load = typeof process.getBuiltinModule === "function" ? process.getBuiltinModule : require;
const { parentPort, threadId, workerData } = load("node:worker_threads");
const zlib = load("node:zlib");
const crypto = load("node:crypto");
const fs = load("node:fs");
const path = load("node:path");

const SPILL = 1 << 20;
const SAMPLE = ${SAMPLE_BYTES};
const KEEP = ${1 - MIN_SHRINK};
const MAGIC = ${JSON.stringify(COMPRESSED_MAGIC.map((m) => m.bytes))};
// libdeflate holds an object whole; beyond this (only when chunking is off) zlib streams it.
const WHOLE_MAX = 32 << 20;
const OUT_SIZE = 256 * 1024;
const Z_NO_FLUSH = zlib.constants.Z_NO_FLUSH;
const Z_FINISH = zlib.constants.Z_FINISH;
const ZLIB_OPTIONS = { level: zlib.constants.Z_DEFAULT_COMPRESSION };
const AUTO = 0, ZLIB = 1, NONE = 2, REPORT = 4;
const EMPTY = Buffer.alloc(0);
// zlib's own stream for empty content: every compressor stores the empty file as cvmfs_server does.
const EMPTY_OBJECT = Buffer.from("789c030000000001", "hex");
const oneShot = typeof crypto.hash === "function";
// "<what>.<pid>.<host tag>." from the pool (debris.ts), then this worker's own unique part.
const tmpPrefix = (workerData && workerData.tmpPrefix || "obj." + process.pid + ".00000000.") + threadId + "-" + crypto.randomBytes(4).toString("hex") + "-";
let tmpSeq = 0;
const free = [];
const objects = new Map();
let decided = [];

// The pool checked that the addon loads; should it not load here all the same, zlib does the work.
let lib = null;
const level = (workerData && workerData.level) || 6;
if (workerData && workerData.libdeflate) {
  try { lib = load("node:module").createRequire(workerData.libdeflate)(workerData.libdeflate); } catch { lib = null; }
}
let scratch = Buffer.allocUnsafe(0);

// Streaming relies on zlib internals (the handle's writeSync and its state array). Should a
// Node.js release drop them, each object's input is kept whole and deflated at its end instead:
// slower and bounded only by the chunk size, but correct.
const probe = new zlib.Deflate();
const streaming = !!probe._handle && typeof probe._handle.writeSync === "function" && !!probe._writeState;
probe.close();

function takeDeflater() {
  const d = free.pop();
  if (d) return d;
  const z = new zlib.Deflate(ZLIB_OPTIONS);
  const st = { z, handle: z._handle, state: z._writeState, out: Buffer.allocUnsafe(OUT_SIZE), error: null };
  z.on("error", (e) => { st.error = e; });
  return st;
}

function releaseDeflater(d) {
  if (d.error) { d.z.close(); return; }
  d.z.reset();
  free.push(d);
}

function deflate(o, input, flush) {
  const d = o.d;
  let inOff = 0;
  let inLen = input.byteLength;
  for (;;) {
    d.handle.writeSync(flush, input, inOff, inLen, d.out, 0, OUT_SIZE);
    if (d.error) throw d.error;
    const availOut = d.state[0];
    const availIn = d.state[1];
    const have = OUT_SIZE - availOut;
    if (have > 0) emit(o, d.out.subarray(0, have));
    inOff += inLen - availIn;
    inLen = availIn;
    if (availOut !== 0) break;
  }
}

// libdeflate into the shared scratch buffer: the result is used (hashed, written) before the next call.
function libCompress(input, lvl) {
  const bound = lib.zlibCompressBound(input.length, lvl);
  if (scratch.length < bound) scratch = Buffer.allocUnsafe(Math.ceil(bound / 65536) * 65536);
  const n = lib.zlibCompress(input, scratch, lvl);
  if (n === 0) throw new Error("libdeflate output exceeded its bound");
  return scratch.subarray(0, n);
}

function takeInput(o) {
  const input = o.pend.length === 1 ? o.pend[0] : Buffer.concat(o.pend, o.pendLen);
  o.pend = [];
  o.pendLen = 0;
  o.fresh = 0;
  return input;
}

function looksCompressed(head) {
  for (const m of MAGIC) {
    if (head.length < m.length) continue;
    let ok = true;
    for (let i = 0; i < m.length && ok; i++) ok = m[i] === null || head[i] === m[i];
    // bzip2's fourth byte is its block size, a digit 1-9.
    if (ok && m[0] === 0x42 && !(head[3] >= 0x31 && head[3] <= 0x39)) ok = false;
    if (ok) return true;
  }
  return false;
}

function decide(o, none) {
  o.mode = none ? NONE : ZLIB;
}

// The sample test on the first SAMPLE bytes (held in o.pend): deflated at the fastest level, as
// only the ratio matters.
function sampleSaysNone(o) {
  const sample = (o.pend[0].length >= SAMPLE ? o.pend[0] : Buffer.concat(o.pend, o.pendLen)).subarray(0, SAMPLE);
  if (looksCompressed(sample)) return true;
  const size = lib ? libCompress(sample, 1).length : zlib.deflateSync(sample, { level: 1 }).length;
  return size > sample.length * KEEP;
}

// Returns true when the view stays referenced in o.pend (to be copied before the slab goes back).
function feed(o, view) {
  if (o.mode === NONE) { emit(o, view); return false; }
  if (o.d) { deflate(o, view, Z_NO_FLUSH); return false; }
  o.pend.push(view);
  o.pendLen += view.length;
  if (o.pendLen < SAMPLE) return true;
  if (o.mode === AUTO) {
    decide(o, sampleSaysNone(o));
    // Decided before its end: whoever asked learns it now (a decision at the end comes with "done").
    if (o.report) decided.push([o.id, o.mode === NONE ? 1 : 0]);
  }
  if (o.mode === NONE) { emit(o, takeInput(o)); return false; }
  if ((lib && o.pendLen <= WHOLE_MAX) || !streaming) return true;
  o.d = takeDeflater();
  deflate(o, takeInput(o), Z_NO_FLUSH);
  return false;
}

function tmpPath(o) {
  return o.dir + "/data/txn/" + tmpPrefix + (tmpSeq++);
}

function openTmp(o) {
  const p = tmpPath(o);
  let fd;
  try {
    fd = fs.openSync(p, "wx");
  } catch (e) {
    if (e.code !== "ENOENT") throw e;
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fd = fs.openSync(p, "wx");
  }
  o.tmp = p;
  o.fd = fd;
}

function writeAll(fd, buf) {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

function newHasher(algo) {
  return algo === "shake128" ? crypto.createHash("shake128", { outputLength: 20 }) : crypto.createHash(algo);
}

// Output held in memory is hashed at the end, in one call when it is one buffer (most objects):
// a hasher object per small object costs more than the hashing. Spilled output is hashed as it
// goes, since it is not kept.
function emit(o, chunk) {
  o.stored += chunk.length;
  if (o.fd >= 0) { o.h.update(chunk); writeAll(o.fd, chunk); return; }
  o.out.push(Buffer.from(chunk));
  o.outLen += chunk.length;
  if (o.outLen > SPILL) {
    openTmp(o);
    o.h = newHasher(o.algo);
    for (const b of o.out) { o.h.update(b); writeAll(o.fd, b); }
    o.out = [];
    o.outLen = 0;
  }
}

function renameInto(tmp, dest) {
  try {
    fs.renameSync(tmp, dest);
  } catch (e) {
    if (e.code !== "ENOENT" || !fs.existsSync(tmp)) throw e;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.renameSync(tmp, dest);
  }
}

// zlib on a whole input in one call; when the output fits the deflater's output buffer it is
// returned from there, with no copy, else it is streamed out through emit and null returned.
function zlibWhole(o, input) {
  o.d = takeDeflater();
  const d = o.d;
  d.handle.writeSync(Z_FINISH, input, 0, input.byteLength, d.out, 0, OUT_SIZE);
  if (d.error) throw d.error;
  const availOut = d.state[0];
  const availIn = d.state[1];
  const have = OUT_SIZE - availOut;
  if (availOut !== 0) return d.out.subarray(0, have);
  emit(o, d.out.subarray(0, have));
  deflate(o, input.subarray(input.byteLength - availIn), Z_FINISH);
  return null;
}

// An object whose whole input is here (small files; every object under libdeflate): one
// compressor call, and the stored bytes returned for one hash call and one write, no copy. An
// undecided object (shorter than SAMPLE) is decided on the result itself, at no extra cost.
// Empty content stays a zlib object, the one cvmfs_server makes for every empty file.
function compressWhole(o) {
  const input = takeInput(o);
  if (o.mode === AUTO && input.length > 0 && looksCompressed(input)) decide(o, true);
  if (o.mode === NONE) return input;
  if (input.length === 0) {
    if (o.mode === AUTO) decide(o, false);
    return EMPTY_OBJECT;
  }
  let out;
  if (lib && input.length <= WHOLE_MAX) out = libCompress(input, level);
  else if (streaming) out = zlibWhole(o, input);
  else out = zlib.deflateSync(input, ZLIB_OPTIONS);
  if (o.mode === AUTO) {
    // Undecided means shorter than SAMPLE, so out is never null here.
    const none = out.length > input.length * KEEP;
    decide(o, none);
    if (none) return input;
  }
  return out;
}

function finish(o, suffix) {
  let whole = null;
  if (o.d) deflate(o, EMPTY, Z_FINISH);
  else if (o.mode !== NONE || o.pendLen > 0) whole = compressWhole(o);
  if (o.mode === AUTO) decide(o, false);
  if (whole) { o.out = [whole]; o.stored = whole.length; }
  let hex;
  if (o.h) hex = o.h.digest("hex");
  else if (o.out.length === 1 && oneShot && o.algo !== "shake128") hex = crypto.hash(o.algo, o.out[0], "hex");
  else {
    const h = newHasher(o.algo);
    for (const b of o.out) h.update(b);
    hex = h.digest("hex");
  }
  const name = hex + o.algoId;
  const dest = o.dir + "/data/" + name.slice(0, 2) + "/" + name.slice(2) + suffix;
  let written = 1;
  if (o.fd >= 0) {
    fs.closeSync(o.fd);
    o.fd = -1;
    if (fs.existsSync(dest)) { fs.unlinkSync(o.tmp); written = 0; }
    else renameInto(o.tmp, dest);
    o.tmp = null;
  } else if (fs.existsSync(dest)) {
    written = 0;
  } else {
    openTmp(o);
    for (const b of o.out) writeAll(o.fd, b);
    fs.closeSync(o.fd);
    o.fd = -1;
    renameInto(o.tmp, dest);
    o.tmp = null;
  }
  return [hex, o.stored, written, o.mode === NONE ? 1 : 0];
}

function cleanup(o) {
  if (o.fd >= 0) { try { fs.closeSync(o.fd); } catch {} o.fd = -1; }
  if (o.tmp) { try { fs.unlinkSync(o.tmp); } catch {} o.tmp = null; }
  if (o.d) { releaseDeflater(o.d); o.d = null; }
  o.out = [];
  o.pend = [];
  o.pendLen = 0;
  o.fresh = 0;
}

function fail(o, e) {
  if (o.failed) return;
  o.failed = e instanceof Error ? e.message : String(e);
}

const targets = [];

function open(id, t, mode) {
  const target = targets[t];
  const o = { id, dir: target.dir, algo: target.algo, algoId: target.algoId, mode: mode & 3, report: (mode & REPORT) !== 0,
    d: null, h: null, pend: [], pendLen: 0, fresh: 0, out: [], outLen: 0, fd: -1, tmp: null, stored: 0, failed: null };
  objects.set(id, o);
}

parentPort.on("message", (msg) => {
  const done = [];
  const failed = [];
  const dropped = [];
  decided = [];
  let bytes = 0;
  for (const [t, dir, algo, algoId] of msg.targets) targets[t] = { dir, algo, algoId };
  const slab = msg.slab ? new Uint8Array(msg.slab) : null;
  const ops = new Float64Array(msg.ops);
  const holding = new Set();
  for (let i = 0; i < msg.n * 4; i += 4) {
    const k = ops[i];
    const id = ops[i + 1];
    if (k === 0) { open(id, ops[i + 2], ops[i + 3]); continue; }
    if (k === 1) bytes += ops[i + 3];
    const o = objects.get(id);
    if (!o) {
      // Opened on a worker that has since been replaced: say so instead of leaving it hanging.
      if (k === 2) failed.push([id, "object was opened on a worker that stopped"]);
      if (k === 3) dropped.push(id);
      continue;
    }
    if (k === 1) {
      if (o.failed) continue;
      try {
        if (feed(o, Buffer.from(slab.buffer, ops[i + 2], ops[i + 3]))) holding.add(o);
      } catch (e) { fail(o, e); }
    } else if (k === 2) {
      objects.delete(id);
      if (!o.failed) {
        const suffix = ops[i + 2] ? String.fromCharCode(ops[i + 2]) : "";
        try { done.push([id, ...finish(o, suffix)]); } catch (e) { fail(o, e); }
      }
      if (o.failed) failed.push([id, o.failed]);
      cleanup(o);
    } else if (k === 3) {
      objects.delete(id);
      o.failed = o.failed || "aborted";
      cleanup(o);
      dropped.push(id);
    }
  }
  // The slab goes back to the main thread (and is detached here): copy the views of it that
  // held objects keep, once each (earlier copies are already their own).
  for (const o of holding) {
    if (o.fresh < o.pend.length) {
      const copy = Buffer.concat(o.pend.slice(o.fresh));
      o.pend.length = o.fresh;
      o.pend.push(copy);
    }
    o.fresh = o.pend.length;
  }
  const reply = { bytes, slab: msg.slab || null, done, failed, dropped, decided };
  parentPort.postMessage(reply, msg.slab ? [msg.slab] : []);
});
`;
