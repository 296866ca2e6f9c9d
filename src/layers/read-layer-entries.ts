import type { ContentStore } from "../content/content-store.js";
import { silentLogger, warn, type Logger } from "../logger.js";
import type { Layer } from "../registry/image.js";
import { readLayerCache, writeLayerCache } from "./layer-cache.js";
import { checkLayerMediaType } from "./layer-media-type.js";
import { processLayer, type LayerResult } from "./process-layer.js";

export interface ReadLayerEntriesOptions {
  /** Where file bytes go when the layer must be processed; the cache is checked against it too. */
  store: ContentStore;
  /** Tool cache directory (layer results under `layers/`); `false` for none. */
  cacheDir: string | false;
  logger?: Logger;
  signal?: AbortSignal;
  /** For messages: the image the layer belongs to. */
  image?: string;
}

/**
 * One layer's entries for a caller that needs them after its image was converted (e.g. to build
 * a per-layer tree for an image published before): from the layer cache when it holds the layer
 * and `store` has every object it names, else fetched and processed (and then cached, a failure
 * to cache being only a warning). Throws what `processLayer` throws.
 */
export async function readLayerEntries(layer: Layer, options: ReadLayerEntriesOptions): Promise<LayerResult & { fromCache: boolean }> {
  const { store, cacheDir } = options;
  const logger = options.logger ?? silentLogger;
  const digest = layer.descriptor.digest;
  checkLayerMediaType(layer.descriptor.mediaType, digest);
  if (cacheDir) {
    const cached = await readLayerCache(cacheDir, digest, store);
    if (cached) return { ...cached, fromCache: true };
  }
  const result = await processLayer(layer, {
    store,
    logger,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.image ? { image: options.image } : {}),
  });
  if (cacheDir) {
    await writeLayerCache(cacheDir, store.hashAlgorithm, result).catch((err: unknown) =>
      warn(logger, "layer.cache", `layer ${digest}: cache not written: ${String(err)}`, { layer: digest }),
    );
  }
  return { ...result, fromCache: false };
}
