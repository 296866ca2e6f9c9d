import pLimit from "p-limit";
import { AbortedError } from "../errors.js";
import { info, warn, type Logger } from "../logger.js";
import type { ContentStore } from "../content/content-store.js";
import type { Image, Layer } from "../registry/image.js";
import { formatImageReference } from "../wishlist/reference.js";
import type { DirNode } from "../tree/types.js";
import { applyLayer } from "../tree/apply-layer.js";
import { countTree, createImageTree, impliedDirMeta } from "../tree/image-tree.js";
import { humanBytes } from "../human-format.js";
import { checkLayerMediaType } from "../layers/layer-media-type.js";
import { defaultCacheDir, readLayerCache, writeLayerCache } from "../layers/layer-cache.js";
import { processLayer, type LayerResult } from "../layers/process-layer.js";
import { assembleApptainerFiles } from "./apptainer-files.js";
import { applyApptainerFiles } from "./apply-apptainer-files.js";

/** `sha256:0123456789ab…` for log lines; events carry the full digest. */
const shortLayer = (digest: string): string => `${digest.slice(0, digest.indexOf(":") + 13)}…`;

export interface ConvertOptions {
  /** Where file bytes go (compressed, hashed); the tree references them. */
  store: ContentStore;
  /** Tool cache directory (layer results under `layers/`); default `~/.cache/cvmfs-image-sync`; `false` for none. */
  cacheDir?: string | false;
  /** Layers fetched and decoded at once (default 3). */
  concurrency?: number;
  logger: Logger;
  signal?: AbortSignal;
  /** Add what `apptainer build --sandbox` adds (`.singularity.d`, mount points, …). Default true. */
  apptainer?: boolean;
  /** Build time for Apptainer's labels and the mtime of the files it adds; default now. */
  buildDate?: Date;
  /**
   * Called with each layer's result right after it is applied, base layer first, and awaited:
   * a caller can build that layer's own tree (containerd's `layers` format) from entries that
   * are held here anyway, without fetching the layer again or keeping every layer at once.
   */
  onLayer?: (index: number, result: LayerResult) => void | Promise<void>;
}

export interface ConvertStats {
  /** Regular files in the final tree (hardlinks counted per name) and their distinct bytes. */
  files: number;
  bytes: number;
  dirs: number;
  symlinks: number;
  specials: number;
  layers: number;
  layersFromCache: number;
  /** Tar entries read (or replayed from the cache) over all layers. */
  entries: number;
  /** Entries refused or moved inside the root (`tree.unsafe` warnings). */
  warnings: number;
  seconds: number;
}

/**
 * Turn an image into its image tree: every layer fetched and decoded in parallel (each from the
 * layer cache when it has it), applied to the tree strictly in order, base layer first, as soon
 * as it and all below it are ready; then Apptainer's files added. File bytes end up in
 * `options.store`; the tree holds metadata only. Progress goes to the logger as `layer.start`,
 * `layer.progress` (tar bytes), `layer.done` and `image.tree` events. On the first failing
 * layer the others are aborted and the error is thrown; objects already stored stay.
 */
export async function convertImage(image: Image, options: ConvertOptions): Promise<{ tree: DirNode; stats: ConvertStats }> {
  const started = Date.now();
  const { logger, store } = options;
  // The name users wrote (tag form when there is a tag): the key of its progress line.
  const name = formatImageReference(image.reference.tag !== undefined ? { ...image.reference, digest: undefined } : image.reference);
  const cacheDir = options.cacheDir === false ? undefined : (options.cacheDir ?? defaultCacheDir());
  const controller = new AbortController();
  const stop = (): void => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", stop, { once: true });
  const limit = pLimit(options.concurrency ?? 3);
  let fromCache = 0;

  const one = async (layer: Layer, index: number): Promise<LayerResult> => {
    const digest = layer.descriptor.digest;
    checkLayerMediaType(layer.descriptor.mediaType, digest);
    const t0 = Date.now();
    const fields = { image: name, layer: digest, index, size: layer.descriptor.size };
    if (cacheDir) {
      const cached = await readLayerCache(cacheDir, digest, store);
      if (cached) {
        fromCache++;
        info(logger, "layer.done", `${name}: layer ${index + 1}/${image.layers.length} ${shortLayer(digest)} from cache (${humanBytes(cached.bytes)})`, { ...fields, files: cached.files, bytes: cached.bytes, fromCache: true, seconds: 0 });
        return cached;
      }
    }
    info(logger, "layer.start", `${name}: layer ${index + 1}/${image.layers.length} ${shortLayer(digest)} (${humanBytes(layer.descriptor.size)} compressed)`, fields);
    const result = await processLayer(layer, {
      store,
      logger,
      signal: controller.signal,
      image: name,
      onProgress: (bytes) => info(logger, "layer.progress", `layer ${digest}: ${bytes} bytes`, { ...fields, bytes }),
    });
    if (cacheDir) {
      await writeLayerCache(cacheDir, store.hashAlgorithm, result).catch((err: unknown) =>
        warn(logger, "layer.cache", `layer ${digest}: cache not written: ${String(err)}`, { layer: digest }),
      );
    }
    const seconds = (Date.now() - t0) / 1000;
    info(logger, "layer.done", `${name}: layer ${index + 1}/${image.layers.length} ${shortLayer(digest)} done: ${result.files} files, ${humanBytes(result.bytes)}`, { ...fields, files: result.files, bytes: result.bytes, fromCache: false, seconds });
    return result;
  };

  const pending = image.layers.map((layer, i) =>
    limit(() => {
      if (controller.signal.aborted) throw new AbortedError(`convert ${name}: aborted`);
      return one(layer, i);
    }),
  );
  // Failure of any layer stops the rest at once, not only when its turn to be applied comes.
  // The first failure is the one to report: the layers it aborts fail with AbortedError after it.
  let firstFailure: unknown;
  for (const p of pending) {
    p.catch((err: unknown) => {
      if (!controller.signal.aborted) firstFailure ??= err;
      controller.abort();
    });
  }

  const tree = createImageTree(impliedDirMeta(createdSeconds(image)));
  let entries = 0;
  let warnings = 0;
  try {
    for (const [i, p] of pending.entries()) {
      const result = await p;
      const applied = applyLayer(tree, result.entries, { logger, image: name, layer: result.digest ?? String(i) });
      entries += applied.entries;
      warnings += applied.warnings;
      await options.onLayer?.(i, result);
    }
  } catch (err) {
    await Promise.allSettled(pending);
    if (options.signal?.aborted) throw new AbortedError(`convert ${name}: aborted`, { cause: err });
    throw firstFailure ?? err;
  } finally {
    options.signal?.removeEventListener("abort", stop);
  }

  if (options.apptainer ?? true) {
    const buildDate = options.buildDate ?? new Date();
    const files = assembleApptainerFiles({
      config: image.config,
      reference: name,
      manifestDigest: image.manifestDigest,
      ...(image.indexDigest ? { indexDigest: image.indexDigest } : {}),
      configDigest: image.configDigest,
      buildDate,
    });
    await applyApptainerFiles(tree.root, files, store, Math.floor(buildDate.getTime() / 1000));
  }

  const counts = countTree(tree.root);
  const stats: ConvertStats = {
    ...counts,
    layers: image.layers.length,
    layersFromCache: fromCache,
    entries,
    warnings,
    seconds: (Date.now() - started) / 1000,
  };
  info(logger, "image.tree", `${name}: ${counts.files} files, ${counts.dirs} directories, ${humanBytes(counts.bytes)}`, { image: name, ...stats });
  return { tree: tree.root, stats };
}

/** The image's creation time, for the root before a layer names it; 0 when unknown. */
function createdSeconds(image: Image): number {
  const t = image.config.created ? Date.parse(image.config.created) : NaN;
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}
