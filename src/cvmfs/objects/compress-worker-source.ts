/**
 * Source of one compress-pool worker, started with `new Worker(source, { eval: true })`. It is
 * plain JavaScript in a string so that the same code runs from `src/` under vitest/tsx (where a
 * worker cannot load a `.ts` file) and from `dist/` after `tsc` (which copies no `.js` files).
 *
 * Protocol (one message each way per batch; compress-pool.ts is the other end):
 * - in: `{ targets, ops, n, slab }`. `targets` (usually empty) registers `[index, dir, algo,
 *   algoId]` store targets once. `ops` is a transferred Float64Array buffer of `n` ops of 4 numbers
 *   each, applied in order: `[0,id,target,0]` open an object, `[1,id,off,len]` content bytes at
 *   `slab[off, off+len)`, `[2,id,suffixCharCode|0,0]` finish it, `[3,id,0,0]` drop it. `slab` is
 *   a transferred ArrayBuffer holding this batch's content bytes. Numbers in buffers, not objects,
 *   because cloning hundreds of small objects per batch showed up on the main thread.
 * - out: `{ bytes, slab, done, failed, dropped }` — `bytes` of content consumed, the slab handed
 *   back for reuse, `done` = `[id, hex, storedSize, written]`, `failed` = `[id, message]`,
 *   `dropped` = ids whose drop is complete (temp file removed).
 *
 * Per object: zlib (with header, Z_DEFAULT_COMPRESSION) fed incrementally through the zlib
 * handle's synchronous `writeSync` — the primitive `zlib.deflateSync` is built on — so one
 * context per object streams without ever holding the object whole. Output stays in memory up
 * to SPILL bytes (hashed at the end, in one call), then goes to a temp file in `data/txn`
 * (hashed as it is written). At the end the hash names the object: if `data/xx/…` already exists nothing is
 * written (or the spilled temp file is removed), else the bytes land in a temp file that is
 * renamed into place, so readers never see a partial object. Deflate contexts are reset and
 * reused: setting one up costs as much as compressing a small file.
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
// Input of an object is held back (not compressed) until this much has arrived or it ends, so
// that small objects take a deflate context only for the moment they are compressed.
const DEFER = 64 * 1024;
const OUT_SIZE = 256 * 1024;
const Z_NO_FLUSH = zlib.constants.Z_NO_FLUSH;
const Z_FINISH = zlib.constants.Z_FINISH;
const EMPTY = Buffer.alloc(0);
const oneShot = typeof crypto.hash === "function";
// "<what>.<pid>.<host tag>." from the pool (debris.ts), then this worker's own unique part.
const tmpPrefix = (workerData && workerData.tmpPrefix || "obj." + process.pid + ".00000000.") + threadId + "-" + crypto.randomBytes(4).toString("hex") + "-";
let tmpSeq = 0;
const free = [];
const objects = new Map();

// Streaming relies on zlib internals (the handle's writeSync and its state array). Should a
// Node.js release drop them, each object's input is kept whole and deflated at its end instead:
// slower and bounded only by the chunk size, but correct.
const probe = new zlib.Deflate();
const streaming = !!probe._handle && typeof probe._handle.writeSync === "function" && !!probe._writeState;
probe.close();

function takeDeflater() {
  const d = free.pop();
  if (d) return d;
  const z = new zlib.Deflate({ level: zlib.constants.Z_DEFAULT_COMPRESSION });
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

function feed(o, view) {
  if (o.d) { deflate(o, view, Z_NO_FLUSH); return false; }
  o.pend.push(view);
  o.pendLen += view.length;
  if (o.pendLen < DEFER || !streaming) return true;
  start(o);
  return false;
}

function start(o) {
  o.d = takeDeflater();
  const pend = o.pend;
  o.pend = [];
  o.pendLen = 0;
  for (const v of pend) deflate(o, v, Z_NO_FLUSH);
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

// An object whose whole input is here (most of them: small files) is deflated in one call, and
// when its output fits the deflater's output buffer it is hashed and written from there, with
// no copy: one zlib call, one hash call, no allocation for the object's bytes.
function deflateWhole(o) {
  const input = o.pend.length === 1 ? o.pend[0] : Buffer.concat(o.pend);
  o.pend = [];
  o.pendLen = 0;
  o.d = takeDeflater();
  const d = o.d;
  d.handle.writeSync(Z_FINISH, input, 0, input.byteLength, d.out, 0, OUT_SIZE);
  if (d.error) throw d.error;
  const availOut = d.state[0];
  const availIn = d.state[1];
  const have = OUT_SIZE - availOut;
  if (availOut !== 0) {
    o.stored = have;
    return d.out.subarray(0, have);
  }
  emit(o, d.out.subarray(0, have));
  deflate(o, input.subarray(input.byteLength - availIn), Z_FINISH);
  return null;
}

function finish(o, suffix) {
  let whole = null;
  if (!streaming) {
    emit(o, zlib.deflateSync(Buffer.concat(o.pend), { level: zlib.constants.Z_DEFAULT_COMPRESSION }));
    o.pend = [];
  } else if (!o.d) {
    whole = deflateWhole(o);
  } else {
    deflate(o, EMPTY, Z_FINISH);
  }
  if (whole) o.out = [whole];
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
  return [hex, o.stored, written];
}

function cleanup(o) {
  if (o.fd >= 0) { try { fs.closeSync(o.fd); } catch {} o.fd = -1; }
  if (o.tmp) { try { fs.unlinkSync(o.tmp); } catch {} o.tmp = null; }
  if (o.d) { releaseDeflater(o.d); o.d = null; }
  o.out = [];
  o.pend = [];
}

function fail(o, e) {
  if (o.failed) return;
  o.failed = e instanceof Error ? e.message : String(e);
}

const targets = [];

function open(id, t) {
  const target = targets[t];
  const o = { id, dir: target.dir, algo: target.algo, algoId: target.algoId, d: null, h: null, pend: [],
    pendLen: 0, out: [], outLen: 0, fd: -1, tmp: null, stored: 0, failed: null };
  objects.set(id, o);
}

parentPort.on("message", (msg) => {
  const done = [];
  const failed = [];
  const dropped = [];
  let bytes = 0;
  for (const [t, dir, algo, algoId] of msg.targets) targets[t] = { dir, algo, algoId };
  const slab = msg.slab ? new Uint8Array(msg.slab) : null;
  const ops = new Float64Array(msg.ops);
  const holding = new Set();
  for (let i = 0; i < msg.n * 4; i += 4) {
    const k = ops[i];
    const id = ops[i + 1];
    if (k === 0) { open(id, ops[i + 2]); continue; }
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
        if (feed(o, slab.subarray(ops[i + 2], ops[i + 2] + ops[i + 3]))) holding.add(o);
      } catch (e) { fail(o, e); }
    } else if (k === 2) {
      objects.delete(id);
      if (!o.failed) {
        const suffix = ops[i + 2] ? String.fromCharCode(ops[i + 2]) : "";
        try { const r = finish(o, suffix); done.push([id, r[0], r[1], r[2]]); } catch (e) { fail(o, e); }
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
  // The slab goes back to the main thread (and is detached here): keep copies of held input.
  for (const o of holding) {
    if (o.pend.length > 0) o.pend = [Buffer.concat(o.pend)];
  }
  const reply = { bytes, slab: msg.slab || null, done, failed, dropped };
  parentPort.postMessage(reply, msg.slab ? [msg.slab] : []);
});
`;
