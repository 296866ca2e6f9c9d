import { createReadStream } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { DigestMismatchError, describeError, RepositoryError } from "../../errors.js";
import { Xor32Chunker, DEFAULT_CHUNKING, validateChunking, type ChunkingOptions } from "./chunker.js";
import { CompressPool } from "./compress-pool.js";
import type { ObjectCompression, ObjectTarget, StoredObject } from "./object-target.js";
import type { ChunkRef, ContentStore, FileContent, HashAlgorithm, ObjectSuffix } from "../../content/content-store.js";
import { createContentHasher, hashString, objectPath, parseHashString } from "./hash.js";
import { inflateStream } from "./object-codec.js";

/** Options of a local content store; every field has a default. */
export interface LocalContentStoreOptions {
  /** Default `sha1`, as `CVMFS_HASH_ALGORITHM`. */
  hashAlgorithm?: HashAlgorithm;
  /** Chunk bounds for files larger than `min`; `false` stores every file whole. Default 4/8/16 MiB. */
  chunking?: ChunkingOptions | false;
  /** Workers that compress and write. Default: the process-wide `CompressPool.shared()`. */
  pool?: CompressPool;
}

/**
 * A content store on a local directory laid out like a stratum 0: objects at
 * `rootDir/data/xx/…[suffix]`, temp files in `rootDir/data/txn`, each object written to a temp
 * file and renamed into place (readers never see a partial object; a crash leaves only
 * `data/txn` debris). An object already present is not rewritten. The counters say what was
 * written and what was found present, for summaries.
 */
export class LocalContentStore implements ContentStore {
  readonly hashAlgorithm: HashAlgorithm;
  readonly chunking: ChunkingOptions | false;
  private readonly pool: CompressPool;
  private readonly target: ObjectTarget;
  private written = 0;
  private writtenBytes = 0;
  private deduplicated = 0;

  constructor(
    readonly rootDir: string,
    opts: LocalContentStoreOptions = {},
  ) {
    this.hashAlgorithm = opts.hashAlgorithm ?? "sha1";
    this.chunking = opts.chunking === false ? false : validateChunking(opts.chunking ?? DEFAULT_CHUNKING);
    this.pool = opts.pool ?? CompressPool.shared();
    this.target = {
      rootDir,
      algorithm: this.hashAlgorithm,
      onStored: (o) => {
        if (o.written) {
          this.written++;
          this.writtenBytes += o.storedSize;
        } else {
          this.deduplicated++;
        }
      },
    };
  }

  /** Create `data/00`…`data/ff` and `data/txn` (as `cvmfs_server mkfs` does) and open the store. */
  static async create(rootDir: string, opts: LocalContentStoreOptions = {}): Promise<LocalContentStore> {
    const dirs = Array.from({ length: 256 }, (_, i) => join(rootDir, "data", i.toString(16).padStart(2, "0")));
    dirs.push(join(rootDir, "data", "txn"));
    try {
      // data/ first, then its children one level each: a recursive mkdir reports a full disk
      // (ENOSPC) as ENOENT, which would hide the cause.
      await mkdir(join(rootDir, "data"), { recursive: true });
      await Promise.all(
        dirs.map((d) =>
          mkdir(d).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== "EEXIST") throw err;
          }),
        ),
      );
    } catch (cause) {
      throw new RepositoryError(`create content store ${rootDir}: ${describeError(cause)}`, { cause });
    }
    return new LocalContentStore(rootDir, opts);
  }

  /** Objects written so far. */
  get objectsWritten(): number {
    return this.written;
  }

  /** Stored (compressed) bytes written so far. */
  get bytesWritten(): number {
    return this.writtenBytes;
  }

  /** Objects that were already present and not written again. */
  get objectsDeduplicated(): number {
    return this.deduplicated;
  }

  /**
   * Store one file's content: whole when it yields a single piece (always when it is at most
   * `chunking.min` bytes), else as `P` chunks cut by the xor32 detector, each compressed on its
   * own. Reads `body` as fast as the pool accepts bytes; settles when every object is stored.
   * On failure nothing partial is visible: objects already stored stay (they are valid), the
   * rest is dropped.
   */
  async putFile(body: Readable | AsyncIterable<Uint8Array>): Promise<FileContent> {
    const chunker = this.chunking ? new Xor32Chunker(this.chunking) : null;
    const pieces: Array<{ offset: number; size: number; stored: Promise<StoredObject> }> = [];
    // The worker decides on the first piece (incompressible.ts); a chunked file's other pieces
    // follow it, since the catalog flag is per file.
    let writer = this.pool.openObject(this.target, { compression: "auto", reportCompression: chunker !== null });
    let compression: ObjectCompression | undefined;
    let pieceStart = 0;
    let pos = 0;
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        let from = 0;
        if (chunker) {
          for (const cut of chunker.push(bytes)) {
            const at = cut - pos;
            const w = writer.write(bytes.subarray(from, at));
            if (w) await w;
            pieces.push({ offset: pieceStart, size: cut - pieceStart, stored: quiet(writer.end("P")) });
            compression ??= await writer.compression();
            writer = this.pool.openObject(this.target, { compression });
            pieceStart = cut;
            from = at;
          }
        }
        const w = writer.write(from === 0 ? bytes : bytes.subarray(from));
        if (w) await w;
        pos += bytes.length;
      }
    } catch (err) {
      await Promise.allSettled([writer.abort(), ...pieces.map((p) => p.stored)]);
      throw err;
    }
    if (pieces.length === 0) {
      const whole = await writer.end("");
      return whole.compression === "none" ? { size: pos, hash: whole.hash, compression: "none" } : { size: pos, hash: whole.hash };
    }
    pieces.push({ offset: pieceStart, size: pos - pieceStart, stored: writer.end("P") });
    const stored = await Promise.all(pieces.map((p) => p.stored));
    const chunks: ChunkRef[] = pieces.map((p, i) => ({ offset: p.offset, size: p.size, hash: (stored[i] as StoredObject).hash }));
    return compression === "none" ? { size: pos, hash: null, chunks, compression } : { size: pos, hash: null, chunks };
  }

  /** Store `bytes` as one object (never chunked) named with `suffix`; returns its hash string. */
  async putBuffer(bytes: Uint8Array, suffix: ObjectSuffix): Promise<string> {
    const writer = this.pool.openObject(this.target);
    const w = writer.write(bytes);
    if (w) await w;
    return (await writer.end(suffix)).hash;
  }

  /** Whether `data/xx/…[suffix]` exists. */
  async has(hash: string, suffix: ObjectSuffix): Promise<boolean> {
    try {
      await access(this.objectPath(hash, suffix));
      return true;
    } catch {
      return false;
    }
  }

  /** Absolute path of the stored (compressed) object. */
  objectPath(hash: string, suffix: ObjectSuffix): string {
    return join(this.rootDir, objectPath(hash, suffix));
  }

  /**
   * The content of one object, inflated unless `compression` is `none`. The stored bytes are
   * hashed on the way and the stream fails with `DigestMismatchError` if they do not match the name.
   */
  readObject(hash: string, suffix: ObjectSuffix, compression: ObjectCompression = "zlib"): Readable {
    return Readable.from(this.inflated([{ hash, suffix }], compression), { objectMode: false });
  }

  /** A file's content: its whole object, or its chunks inflated (or not) one after another. */
  readFile(content: FileContent): Readable {
    const parts = content.chunks && content.chunks.length > 0
      ? content.chunks.map((c) => ({ hash: c.hash, suffix: "P" as const }))
      : [{ hash: content.hash ?? "", suffix: "" as const }];
    return Readable.from(this.inflated(parts, content.compression ?? "zlib"), { objectMode: false });
  }

  private async *inflated(parts: Array<{ hash: string; suffix: ObjectSuffix }>, compression: ObjectCompression): AsyncGenerator<Buffer> {
    for (const { hash, suffix } of parts) {
      const algo = parseHashString(hash).algorithm;
      const path = this.objectPath(hash, suffix);
      const hasher = createContentHasher(algo);
      const src = createReadStream(path);
      // An uncompressed object is its content: the same hashing pass, no inflate.
      const out = compression === "none" ? new PassThrough() : inflateStream();
      src.on("data", (b) => hasher.update(b as Buffer));
      src.on("error", (e) => out.destroy(new RepositoryError(`read object ${path}`, { cause: e })));
      src.pipe(out);
      try {
        for await (const b of out) yield b as Buffer;
      } finally {
        src.destroy();
      }
      const actual = hashString(hasher.digest(), algo);
      if (actual !== hash) throw new DigestMismatchError(`object ${path}`, hash, actual);
    }
  }
}

/** Pieces are awaited together at the end; keep an early failure from counting as unhandled. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
