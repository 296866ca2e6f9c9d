import type { Readable } from "node:stream";
import { AbortedError, LayerError, ToolError } from "../errors.js";
import { silentLogger, warn, type Logger } from "../logger.js";
import type { ContentStore, FileContent } from "../content/content-store.js";
import type { Layer } from "../registry/image.js";
import type { LayerEntry } from "../tree/layer-entry.js";
import type { NodeMeta } from "../tree/types.js";
import { baseName, classifyName, cleanArchivePath } from "../tree/path-safety.js";
import { readTar } from "./tar-reader.js";
import type { TarHeader } from "./tar-header.js";
import { uncompressedStream } from "./uncompressed-stream.js";
import { isNondistributable } from "./layer-media-type.js";

/** One layer, decoded: its entries in tar order, file bytes already in the content store. */
export interface LayerResult {
  /** The layer's (compressed) digest. */
  digest: string;
  entries: LayerEntry[];
  /** Regular files and the bytes in them (uncompressed). */
  files: number;
  bytes: number;
}

export interface ProcessLayerOptions {
  store: ContentStore;
  logger?: Logger;
  signal?: AbortSignal;
  /** For messages: the image the layer belongs to. */
  image?: string;
  /** Called at most twice a second, and once at the end, with the tar bytes read so far. */
  onProgress?: (tarBytes: number) => void;
  /**
   * Most file bodies handed to the store and not yet settled (default 1024). Bytes need no bound
   * here: the store holds back reading a body while its workers are full. The count must cover
   * a few of the store's batches per worker (about 1 MiB each, dozens of small files), or a
   * worker waits for the parser after every batch instead of having the next one queued.
   */
  maxPendingFiles?: number;
}

/**
 * Stream one layer: fetch its blob, decompress (sniffed), read the tar and hand every regular
 * file's body to `store.putFile` without waiting for it to settle (a bounded set of puts is in
 * flight, so hashing and compression in the store's workers overlap with parsing). Resolves
 * when every put has settled. Nothing is applied to any tree here: that is `applyLayer`, in
 * layer order, over the returned entries. Entry names are kept as written; a layer whose bytes
 * cannot be had (non-distributable) fails with a `LayerError` that says so.
 */
export async function processLayer(layer: Layer, options: ProcessLayerOptions): Promise<LayerResult> {
  const { store, signal } = options;
  const logger = options.logger ?? silentLogger;
  const digest = layer.descriptor.digest;
  const maxFiles = options.maxPendingFiles ?? 1024;

  let compressed: Readable;
  try {
    signal?.throwIfAborted();
    compressed = await layer.compressed(signal ? { signal } : {});
  } catch (err) {
    throw fetchError(layer, err);
  }
  const tarStream = uncompressedStream(compressed);
  const onAbort = (): void => void tarStream.destroy(new AbortedError(`layer ${digest}: aborted`));
  signal?.addEventListener("abort", onAbort, { once: true });

  const entries: LayerEntry[] = [];
  const pending = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;
  let failure: unknown;
  let files = 0;
  let bytes = 0;
  let tarBytes = 0;
  let lastProgress = Date.now();

  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of tarStream as AsyncIterable<Buffer>) {
      tarBytes += chunk.length;
      // At most two reports a second: enough for a progress bar, few enough for a JSON log.
      if (options.onProgress && Date.now() - lastProgress >= 500) {
        lastProgress = Date.now();
        options.onProgress(tarBytes);
      }
      yield chunk;
    }
  }

  try {
    for await (const { header, body } of readTar(counted())) {
      if (failure !== undefined) break;
      const entry = toEntry(header);
      if (entry === undefined) {
        warn(logger, "layer.skip", `${options.image ?? "image"} layer ${digest}: entry "${header.name}" of tar type '${header.typeflag}' is not supported; skipped`, {
          image: options.image,
          layer: digest,
          entry: header.name,
          typeflag: header.typeflag,
        });
        continue;
      }
      entries.push(entry);
      if (entry.kind !== "file") continue;
      files++;
      bytes += header.size;
      // One waiter woken by whichever put settles: racing the whole set would attach a handler
      // to every pending put on every file, quadratic in the bound.
      while (pending.size >= maxFiles) await new Promise<void>((resolve) => (slotFreed = resolve));
      const put: Promise<void> = store.putFile(body()).then(
        (content: FileContent) => {
          entry.content = content;
        },
        (err: unknown) => {
          failure ??= err;
        },
      );
      const tracked = put.finally(() => {
        pending.delete(tracked);
        const wake = slotFreed;
        slotFreed = undefined;
        wake?.();
      });
      pending.add(tracked);
    }
    await Promise.all(pending);
    if (failure !== undefined) throw failure;
  } catch (caught) {
    tarStream.destroy();
    await Promise.allSettled(pending);
    // A failed put destroys its body, which the tar reader then reports: the put's error is the cause.
    const err = failure ?? caught;
    if (signal?.aborted) throw new AbortedError(`layer ${digest}: aborted`, { cause: err });
    if (err instanceof ToolError) throw err;
    throw new LayerError(`decode layer ${digest}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  options.onProgress?.(tarBytes);
  return { digest, entries, files, bytes };
}

function fetchError(layer: Layer, err: unknown): unknown {
  if (err instanceof AbortedError) return err;
  const d = layer.descriptor;
  if (!isNondistributable(d.mediaType)) return err;
  const where = d.urls?.length ? `its URLs (${d.urls.join(", ")}) or the registry` : "the registry (the manifest lists no URLs)";
  return new LayerError(
    `non-distributable layer ${d.digest} (${d.mediaType}) could not be fetched from ${where}: ` +
      `${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

function metaOf(h: TarHeader): NodeMeta {
  const meta: NodeMeta = { mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, mtime: h.mtime, mtimeNs: h.mtimeNs };
  if (h.xattrs) meta.xattrs = h.xattrs;
  return meta;
}

/** The layer entry a tar header describes, or undefined for tar types a layer cannot use. */
function toEntry(h: TarHeader): (LayerEntry & { content?: FileContent }) | undefined {
  const name = h.name;
  if (classifyName(baseName(cleanArchivePath(name))).kind !== "plain") return { kind: "whiteout", name };
  switch (h.typeflag) {
    case "0":
    case "7":
      // `content` is filled in when the store has the bytes.
      return { kind: "file", name, meta: metaOf(h), content: { size: h.size, hash: null } };
    case "1":
      return { kind: "hardlink", name, target: h.linkname };
    case "2":
      return { kind: "symlink", name, meta: metaOf(h), target: h.linkname };
    case "3":
      return { kind: "char", name, meta: metaOf(h), devMajor: h.devMajor, devMinor: h.devMinor };
    case "4":
      return { kind: "block", name, meta: metaOf(h), devMajor: h.devMajor, devMinor: h.devMinor };
    case "5":
      return { kind: "dir", name, meta: metaOf(h) };
    case "6":
      return { kind: "fifo", name, meta: metaOf(h), devMajor: 0, devMinor: 0 };
    default:
      return undefined;
  }
}
