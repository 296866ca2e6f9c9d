import { PassThrough, Transform, type Readable } from "node:stream";
import { createGunzip, type ZlibOptions } from "node:zlib";
import { DecompressStream } from "zstd-napi";
import { LayerError, ToolError } from "../errors.js";

/** How a layer blob is compressed, as its first bytes say. */
export type LayerCompression = "gzip" | "zstd" | "none";

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** The compression the magic bytes at the start of a blob announce; anything else is a plain tar. */
export function sniffCompression(head: Uint8Array): LayerCompression {
  const starts = (magic: number[]): boolean => magic.every((b, i) => head[i] === b);
  if (starts(GZIP_MAGIC)) return "gzip";
  if (starts(ZSTD_MAGIC)) return "zstd";
  return "none";
}

/** Read until at least `n` bytes are buffered (or the stream ends), then put them back. */
async function peek(stream: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      parts.push(chunk);
      have += chunk.length;
      continue;
    }
    if (stream.readableEnded || stream.destroyed) break;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        stream.off("readable", done);
        stream.off("end", done);
        stream.off("error", fail);
        resolve();
      };
      const fail = (err: Error): void => {
        stream.off("readable", done);
        stream.off("end", done);
        reject(err);
      };
      stream.once("readable", done);
      stream.once("end", done);
      stream.once("error", fail);
    });
    if (stream.errored) throw stream.errored;
  }
  const head = Buffer.concat(parts, have);
  if (have > 0) stream.unshift(head);
  return head;
}

/** Compressed bytes handed to the decoder at once, and the size of its output chunks. */
const DECODE_CHUNK = 1 << 20;

/**
 * Gathers the compressed stream into chunks of at least DECODE_CHUNK bytes. Sockets and file
 * streams deliver 16–64 KiB at a time, and zlib makes one thread-pool round trip per input
 * chunk and per output chunk: bigger chunks on both sides cut a layer's decode time by a fifth.
 * zstd and plain layers go through it too: fewer, larger chunks cost less per byte downstream.
 */
class Coalesce extends Transform {
  private parts: Buffer[] = [];
  private size = 0;

  constructor() {
    super({ highWaterMark: 2 * DECODE_CHUNK });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size >= DECODE_CHUNK) this.release();
    done();
  }

  override _flush(done: (err?: Error | null) => void): void {
    if (this.size > 0) this.release();
    done();
  }

  private release(): void {
    this.push(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size));
    this.parts = [];
    this.size = 0;
  }
}

function decompressor(kind: LayerCompression): Transform {
  // zlib runs on libuv's thread pool, so gzip layers decode off the main thread, in parallel.
  // highWaterMark (passed on to the stream, though the typings omit it): the default 16 KiB
  // holds zlib back after every chunk, and then inflating no longer overlaps the writes.
  if (kind === "gzip") return createGunzip({ chunkSize: DECODE_CHUNK, highWaterMark: 4 * DECODE_CHUNK } as ZlibOptions);
  if (kind === "zstd") return new DecompressStream();
  return new PassThrough({ highWaterMark: 1 << 20 });
}

/**
 * The uncompressed tar of a layer blob: gzip, zstd or plain, chosen from the magic bytes rather
 * than the media type (registries mislabel layers; STYLE.md §2). The one place that decodes a
 * layer; every source goes through it. Errors of the blob stream or of decompression surface as
 * an error of the returned stream (`LayerError` for bad compressed data).
 */
export function uncompressedStream(compressed: Readable): Readable {
  const out = new PassThrough({ highWaterMark: 4 << 20 });
  const fail = (err: unknown): void => {
    if (!out.destroyed) out.destroy(asLayerError(err));
  };
  compressed.on("error", fail);
  void (async () => {
    try {
      const kind = sniffCompression(await peek(compressed, ZSTD_MAGIC.length));
      const dec = decompressor(kind);
      dec.on("error", fail);
      // Whoever stops reading the result stops the whole chain.
      out.on("close", () => {
        dec.destroy();
        compressed.destroy();
      });
      compressed.pipe(new Coalesce()).on("error", fail).pipe(dec).pipe(out);
    } catch (err) {
      fail(err);
      compressed.destroy();
    }
  })();
  return out;
}

/** zlib's and zstd's own errors say little on their own: name them as a bad layer. */
function asLayerError(err: unknown): Error {
  if (err instanceof Error && "code" in err && typeof err.code === "string" && err.code.startsWith("Z_")) {
    return new LayerError(`decompress layer: corrupt gzip data (${err.message})`, { cause: err });
  }
  if (err instanceof Error && !(err instanceof ToolError) && /zstd|frame|Unknown frame descriptor|corrupt/i.test(err.message)) {
    return new LayerError(`decompress layer: corrupt zstd data (${err.message})`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
