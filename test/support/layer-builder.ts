/**
 * Builds image layers in code: real tar streams (tar-stream's packer, plus hand-made GNU long-name
 * headers), compressed with gzip, zstd or nothing. Every test that needs a layer makes it here,
 * from a table of entries, so the bytes a test feeds the tool are exactly the ones it describes.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, constants as zlibConstants } from "node:zlib";
import tar, { type Header } from "tar-stream";

type Headers = Partial<Header> & { name: string };
import { CompressStream } from "zstd-napi";
import { MediaTypes } from "../../src/registry/image.js";

/** Deterministic generated content, for files too big to spell out. */
export interface GeneratedContent {
  size: number;
  seed: number;
  /** Text-like, compressible bytes instead of random ones. */
  compressible?: boolean;
}

interface EntryBase {
  path: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; may have a fraction (written as pax mtime with nanoseconds). */
  mtime?: number;
  /** Extra pax records, e.g. `{ "SCHILY.xattr.user.k": "v" }`. */
  pax?: Record<string, string>;
  /** Write the name with a GNU `././@LongLink` header instead of pax/ustar. */
  gnuLongName?: boolean;
}

export type TestEntry =
  | (EntryBase & { type: "file"; content?: string | Buffer | GeneratedContent })
  | (EntryBase & { type: "dir" })
  | (EntryBase & { type: "symlink"; target: string })
  | (EntryBase & { type: "hardlink"; target: string })
  | (EntryBase & { type: "fifo" | "char" | "block"; devMajor?: number; devMinor?: number })
  /** `.wh.<name>` beside the hidden entry: `path` is the path being deleted. */
  | (EntryBase & { type: "whiteout" })
  /** `<path>/.wh..wh..opq`: `path` is the directory made opaque. */
  | (EntryBase & { type: "opaque" });

export type Compression = "gzip" | "zstd" | "none";

export interface BuiltLayer {
  /** The compressed blob as pushed to a registry. */
  blob: Buffer;
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  mediaType: string;
  compression: Compression;
}

export function layerMediaType(compression: Compression, docker = false): string {
  if (docker) {
    if (compression !== "gzip") throw new Error("Docker schema2 layers are gzip");
    return MediaTypes.dockerLayerGzip;
  }
  return compression === "gzip"
    ? MediaTypes.ociLayerGzip
    : compression === "zstd"
      ? MediaTypes.ociLayerZstd
      : MediaTypes.ociLayer;
}

/** Deterministic bytes: xorshift for random ones, repeated words for compressible ones. */
export function* generateContent(gen: GeneratedContent, blockSize = 1 << 20): Generator<Buffer> {
  let state = (gen.seed * 2654435761) >>> 0 || 1;
  let left = gen.size;
  const words = ["lorem ", "ipsum ", "dolor ", "sit ", "amet\n", "cvmfs ", "image ", "layer "];
  while (left > 0) {
    const n = Math.min(blockSize, left);
    const buf = Buffer.allocUnsafe(n);
    if (gen.compressible) {
      let i = 0;
      while (i < n) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        i += buf.write(words[state & 7]!, i, "latin1");
      }
    } else {
      for (let i = 0; i + 4 <= n; i += 4) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        buf.writeUInt32LE(state, i);
      }
      for (let i = n - (n % 4); i < n; i++) buf[i] = i & 0xff;
    }
    left -= n;
    yield buf;
  }
}

function contentSize(content: string | Buffer | GeneratedContent | undefined): number {
  if (content === undefined) return 0;
  if (typeof content === "string") return Buffer.byteLength(content);
  if (Buffer.isBuffer(content)) return content.length;
  return content.size;
}

function tarName(entry: TestEntry): string {
  const p = entry.path;
  if (entry.type === "whiteout") {
    const slash = p.lastIndexOf("/");
    return `${p.slice(0, slash + 1)}.wh.${p.slice(slash + 1)}`;
  }
  if (entry.type === "opaque") return `${p.replace(/\/$/, "")}/.wh..wh..opq`;
  return p;
}

/** A raw 512-byte ustar header block; used for GNU `L`/`K` records that tar-stream does not write. */
function gnuLongHeader(kind: "L" | "K", length: number): Buffer {
  const block = Buffer.alloc(512);
  block.write("././@LongLink", 0, "latin1");
  block.write("0000644\0", 100, "latin1");
  block.write("0000000\0", 108, "latin1");
  block.write("0000000\0", 116, "latin1");
  block.write(length.toString(8).padStart(11, "0") + "\0", 124, "latin1");
  block.write("00000000000\0", 136, "latin1");
  block.write(kind, 156, "latin1");
  block.write("ustar  \0", 257, "latin1");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return block;
}

function padded(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(pad)]);
}

const TYPE: Record<TestEntry["type"], Header["type"]> = {
  file: "file",
  dir: "directory",
  symlink: "symlink",
  hardlink: "link",
  fifo: "fifo",
  char: "character-device",
  block: "block-device",
  whiteout: "file",
  opaque: "file",
};

/** The uncompressed tar stream of `entries`, in order. */
export function tarStream(entries: Iterable<TestEntry> | AsyncIterable<TestEntry>): Readable {
  const pack = tar.pack() as unknown as Readable & ReturnType<typeof tar.pack>;
  void (async () => {
    try {
      for await (const entry of entries) {
        let name = tarName(entry);
        const linkTarget = entry.type === "symlink" || entry.type === "hardlink" ? entry.target : undefined;
        if (entry.gnuLongName) {
          const full = Buffer.from(name + "\0");
          pack.push(gnuLongHeader("L", full.length));
          pack.push(padded(full));
          name = name.slice(-90).replace(/^\/+/, "");
        }
        const content = entry.type === "file" ? entry.content : undefined;
        const mtime = entry.mtime ?? 1_700_000_000;
        const pax: Record<string, string> = { ...entry.pax };
        if (!Number.isInteger(mtime)) pax["mtime"] = mtime.toFixed(9);
        const header: Headers = {
          name,
          type: TYPE[entry.type],
          mode: entry.mode ?? (entry.type === "dir" ? 0o755 : entry.type === "symlink" ? 0o777 : 0o644),
          uid: entry.uid ?? 0,
          gid: entry.gid ?? 0,
          mtime: new Date(Math.floor(mtime) * 1000),
          size: contentSize(content),
          ...(linkTarget !== undefined ? { linkname: linkTarget } : {}),
          ...(entry.type === "char" || entry.type === "block" || entry.type === "fifo"
            ? { devmajor: "devMajor" in entry ? (entry.devMajor ?? 0) : 0, devminor: "devMinor" in entry ? (entry.devMinor ?? 0) : 0 }
            : {}),
          ...(Object.keys(pax).length > 0 ? { pax } : {}),
        };
        await new Promise<void>((resolve, reject) => {
          if (content === undefined || typeof content === "string" || Buffer.isBuffer(content)) {
            // A file entry without a buffer would wait for a body stream: give empty ones an empty buffer.
            const body = content ?? (header.type === "file" ? Buffer.alloc(0) : undefined);
            if (body === undefined) pack.entry(header, (err) => (err ? reject(err) : resolve()));
            else pack.entry(header, body, (err) => (err ? reject(err) : resolve()));
            return;
          }
          const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
          pipeline(Readable.from(generateContent(content)), sink).catch(reject);
        });
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return pack;
}

/** A compressing transform for `compression` ("none" passes bytes through). */
export function compressor(compression: Compression): Transform {
  if (compression === "gzip") return createGzip({ level: zlibConstants.Z_BEST_SPEED });
  if (compression === "zstd") return new CompressStream({ compressionLevel: 3 });
  return new Transform({ transform: (chunk, _e, done) => done(null, chunk) });
}

class Digester extends Transform {
  readonly hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}

/** Builds a layer in memory: for the small layers of unit and integration tests. */
export async function buildLayer(
  entries: Iterable<TestEntry> | AsyncIterable<TestEntry>,
  options: { compression?: Compression; docker?: boolean } = {},
): Promise<BuiltLayer> {
  const compression = options.compression ?? "gzip";
  const tarDigest = new Digester();
  const blobDigest = new Digester();
  const parts: Buffer[] = [];
  await pipeline(tarStream(entries), tarDigest, compressor(compression), blobDigest, async function* (source) {
    for await (const chunk of source) parts.push(chunk as Buffer);
    yield* [];
  });
  const blob = Buffer.concat(parts);
  return {
    blob,
    digest: blobDigest.digest(),
    size: blob.length,
    diffId: tarDigest.digest(),
    mediaType: layerMediaType(compression, options.docker),
    compression,
  };
}

/** Streams a (possibly huge) layer to `file`: for benchmarks. The blob is never held in memory. */
export async function writeLayerFile(
  entries: Iterable<TestEntry> | AsyncIterable<TestEntry>,
  file: string,
  options: { compression?: Compression } = {},
): Promise<Omit<BuiltLayer, "blob"> & { file: string }> {
  const compression = options.compression ?? "gzip";
  const tarDigest = new Digester();
  const blobDigest = new Digester();
  await pipeline(tarStream(entries), tarDigest, compressor(compression), blobDigest, createWriteStream(file));
  return {
    file,
    digest: blobDigest.digest(),
    size: blobDigest.size,
    diffId: tarDigest.digest(),
    mediaType: layerMediaType(compression),
    compression,
  };
}
