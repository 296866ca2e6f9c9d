import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { GatewayError, SizeMismatchError } from "../errors.js";
import { createObjectHasher, digestHashString, parseObjectHash } from "./object-hash.js";

/**
 * CVMFS object packs, the payload body of the gateway (cvmfs-formats.md §5.4):
 * `V2\nS<total>\nN<count>\n--\n` then one `C <hash+suffix> <size>\n` line per object, then the
 * objects' stored (compressed) bytes in the same order. Both directions stream: the writer reads
 * each object from its file as the socket drains, the reader hands bytes to a sink as they arrive.
 */

/** One object of a pack: suffixed hash string and stored byte count. */
export interface PackObject {
  hash: string;
  size: number;
}

/** An object to upload, read from `path` (a content store's object file). */
export interface PackFileObject extends PackObject {
  path: string;
}

/** The receiver's ceiling on the header: 100 bytes × 100,000 objects. */
export const MAX_HEADER_SIZE = 10_000_000;
/** `kMaxObjects`: objects per pack. */
export const MAX_PACK_OBJECTS = 100_000;
/** The stock client's pack size limit (`kDefaultLimit`). */
export const DEFAULT_PACK_BYTES = 200_000_000;

/** The pack header for `objects`, in order. */
export function packHeader(objects: readonly PackObject[]): Buffer {
  let total = 0;
  const lines: string[] = [];
  for (const o of objects) {
    total += o.size;
    lines.push(`C ${o.hash} ${o.size}\n`);
  }
  return Buffer.from(`V2\nS${total}\nN${objects.length}\n--\n${lines.join("")}`, "latin1");
}

/** `payload_digest`: SHA-1 hex of the header, whatever the repository's hash algorithm. */
export function payloadDigest(header: Uint8Array): string {
  return createHash("sha1").update(header).digest("hex");
}

/**
 * The JSON message that precedes the pack, spaced as the stock client writes it. `token` is
 * omitted for `/payloads/<token>`, where the URL carries it. `header_size` and `api_version`
 * are strings on purpose: the gateway answers 400 to numbers.
 */
export function payloadMessage(header: Uint8Array, token?: string): string {
  const tokenPart = token === undefined ? "" : `"session_token" : ${JSON.stringify(token)}, `;
  return `{${tokenPart}"payload_digest" : "${payloadDigest(header)}", "header_size" : "${header.length}", "api_version" : "2"}`;
}

/**
 * Header then each object's bytes, read from disk one at a time. A file whose length differs
 * from its declared size fails the stream with SizeMismatchError (a truncated body would be a
 * corrupt pack on the other side).
 */
export function packStream(header: Uint8Array, objects: readonly PackFileObject[]): Readable {
  async function* generate(): AsyncGenerator<Uint8Array> {
    yield header;
    for (const o of objects) {
      let n = 0;
      for await (const chunk of createReadStream(o.path, { highWaterMark: 256 * 1024 })) {
        n += (chunk as Buffer).length;
        if (n > o.size) throw new SizeMismatchError(`pack object ${o.hash}`, o.size, n);
        yield chunk as Buffer;
      }
      if (n !== o.size) throw new SizeMismatchError(`pack object ${o.hash}`, o.size, n);
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

/**
 * Split objects into packs of at most `maxBytes` stored bytes and `maxObjects` objects, keeping
 * order; an object larger than `maxBytes` gets a pack of its own.
 */
export function splitIntoPacks<T extends PackObject>(
  objects: readonly T[],
  limits: { maxBytes?: number; maxObjects?: number } = {},
): T[][] {
  const maxBytes = limits.maxBytes ?? DEFAULT_PACK_BYTES;
  const maxObjects = Math.min(limits.maxObjects ?? MAX_PACK_OBJECTS, MAX_PACK_OBJECTS);
  const packs: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const o of objects) {
    if (current.length > 0 && (bytes + o.size > maxBytes || current.length >= maxObjects)) {
      packs.push(current);
      current = [];
      bytes = 0;
    }
    current.push(o);
    bytes += o.size;
  }
  if (current.length > 0) packs.push(current);
  return packs;
}

/** A malformed or corrupt pack; `reason` is what the dev gateway answers. */
export class PackError extends GatewayError {}

/**
 * Parse and check a complete header: version, `S` = sum of sizes, `N` = number of lines, every
 * hash a well-formed hash string.
 */
export function parsePackHeader(header: Buffer): PackObject[] {
  const text = header.toString("latin1");
  if (!text.endsWith("\n")) throw packError("header does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines[0] !== "V2") throw packError(`unsupported pack version line "${lines[0]?.slice(0, 20)}"`);
  const s = /^S(\d+)$/.exec(lines[1] ?? "");
  const n = /^N(\d+)$/.exec(lines[2] ?? "");
  if (!s || !n || lines[3] !== "--") throw packError("malformed S/N lines");
  const objects: PackObject[] = [];
  let total = 0;
  for (const line of lines.slice(4)) {
    const m = /^[CN] (\S+) (\d+)(?: \S+)?$/.exec(line);
    if (!m || !parseObjectHash(m[1] as string)) throw packError(`malformed index line "${line.slice(0, 80)}"`);
    const size = Number(m[2]);
    objects.push({ hash: m[1] as string, size });
    total += size;
  }
  if (objects.length !== Number(n[1])) throw packError(`N${n[1]} but ${objects.length} index lines`);
  if (total !== Number(s[1])) throw packError(`S${s[1]} but the objects add up to ${total} bytes`);
  return objects;
}

/** Where the pack reader puts one object's bytes; `close` is called only after its hash matched. */
export interface PackObjectSink {
  write(chunk: Buffer): void | Promise<void>;
  close(): Promise<void>;
}

/**
 * Read a pack from `source` (the bytes after the JSON message), checking as it goes: header
 * size limit, `payload_digest`, S/N, each object's hash re-computed with the algorithm its hash
 * string implies, and no bytes after the last object. `open` is called per object in order; its
 * sink gets the bytes as they arrive and is closed only after the object's hash matched.
 * On any failure it throws PackError; sinks opened so far are the caller's to discard (nothing
 * here makes an object visible).
 *
 * Hashing stays on this thread, chunk by chunk: holding an object's chunks to hash them
 * elsewhere (WebCrypto on the thread pool) measured slower, as the held buffers outlive the
 * young generation and the garbage collector then costs more than the hash.
 */
export async function readPack(
  source: AsyncIterable<Uint8Array>,
  opts: {
    headerSize: number;
    payloadDigest: string;
    maxHeaderSize?: number;
    open: (object: PackObject, index: number) => PackObjectSink | Promise<PackObjectSink>;
  },
): Promise<PackObject[]> {
  if (!Number.isSafeInteger(opts.headerSize) || opts.headerSize <= 0 || opts.headerSize > (opts.maxHeaderSize ?? MAX_HEADER_SIZE)) {
    throw packError(`header_size ${opts.headerSize} out of range`);
  }
  const iterator = source[Symbol.asyncIterator]();
  let pending: Buffer = Buffer.alloc(0);
  const next = async (): Promise<boolean> => {
    const r = await iterator.next();
    if (r.done) return false;
    const chunk = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    return true;
  };
  while (pending.length < opts.headerSize) {
    if (!(await next())) throw packError("body ends inside the pack header");
  }
  const header = pending.subarray(0, opts.headerSize);
  pending = pending.subarray(opts.headerSize);
  const digest = payloadDigest(header);
  if (digest !== opts.payloadDigest) throw packError(`payload_digest ${opts.payloadDigest} does not match the header (${digest})`);
  const objects = parsePackHeader(Buffer.from(header));
  for (const [index, object] of objects.entries()) {
    const parsed = parseObjectHash(object.hash)!;
    const hasher = createObjectHasher(parsed.algorithm);
    const sink = await opts.open(object, index);
    let left = object.size;
    while (left > 0) {
      if (pending.length === 0 && !(await next())) throw packError(`body ends inside object ${object.hash}`);
      const piece = pending.subarray(0, Math.min(left, pending.length));
      pending = pending.subarray(piece.length);
      left -= piece.length;
      hasher.update(piece);
      await sink.write(piece);
    }
    const actual = digestHashString(parsed.algorithm, hasher.digest("hex"));
    if (actual !== parsed.hash) throw packError(`object ${object.hash} hashes to ${actual}`, "other_error");
    await sink.close();
  }
  while (pending.length === 0 && (await next()));
  if (pending.length > 0) throw packError("trailing bytes after the last object");
  return objects;
}

function packError(message: string, reason = "corrupt_pack"): PackError {
  return new PackError(`object pack: ${message}`, `${reason}: ${message}`);
}
