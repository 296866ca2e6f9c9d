import type { ContentStore } from "../content/content-store.js";
import { writeImageCatalogs, type NestedCatalogRef } from "../cvmfs/catalog/writer.js";
import { info, type Logger } from "../logger.js";
import { formatPlatform, type Image } from "../registry/image.js";
import { applyApptainerFiles } from "../sandbox/apply-apptainer-files.js";
import { convertImage, type ConvertOptions, type ConvertStats } from "../sandbox/convert-image.js";
import { countTree } from "../tree/image-tree.js";
import { formatImageReference } from "../wishlist/reference.js";
import { IMAGE_METADATA_PATH, formatImageMetadata, type ImageMetadata } from "../published/image-metadata.js";

/** An image made ready to publish: its catalogs are in the store, mountable at `imageDir`. */
export interface PreparedImage {
  imageDir: string;
  catalog: NestedCatalogRef;
  metadata: ImageMetadata;
  stats: ConvertStats;
}

/**
 * Converts one image into the store and writes its catalogs, ready to mount at `imageDir`:
 * layers → image tree (+ Apptainer's files) → the metadata file that makes the published state
 * readable from the repository → catalogs, bottom-up. Nothing is published here.
 */
export async function prepareImage(
  image: Image,
  imageDir: string,
  options: {
    store: ContentStore;
    cacheDir: string;
    /** Every reference that will point at this image. */
    references: string[];
    logger: Logger;
    signal?: AbortSignal;
    now?: Date;
    /** Hands each layer's result on (the `layers` format builds per-layer trees from it). */
    onLayer?: ConvertOptions["onLayer"];
  },
): Promise<PreparedImage> {
  const { store, logger } = options;
  // The name users wrote (tag form when there is a tag): the key of its progress line.
  const name = formatImageReference(image.reference.tag !== undefined ? { ...image.reference, digest: undefined } : image.reference);
  const now = options.now ?? new Date();
  const { tree, stats } = await convertImage(image, {
    store,
    cacheDir: options.cacheDir,
    logger,
    ...(options.signal ? { signal: options.signal } : {}),
    buildDate: now,
    ...(options.onLayer ? { onLayer: options.onLayer } : {}),
  });
  const counts = countTree(tree);
  const metadata: ImageMetadata = {
    version: 1,
    references: [...options.references].sort(),
    manifestDigest: image.manifestDigest,
    ...(image.indexDigest ? { indexDigest: image.indexDigest } : {}),
    configDigest: image.configDigest,
    platform: formatPlatform(image.platform),
    layers: image.layers.map((l) => ({ digest: l.descriptor.digest, size: l.descriptor.size, mediaType: l.descriptor.mediaType })),
    config: image.config as Record<string, unknown>,
    convertedAt: now.toISOString(),
    files: counts.files,
    bytes: counts.bytes,
  };
  await applyApptainerFiles(
    tree,
    [{ path: `/${IMAGE_METADATA_PATH}`, type: "file", mode: 0o644, content: formatImageMetadata(metadata), onExisting: "replace" }],
    store,
    Math.floor(now.getTime() / 1000),
  );
  info(logger, "image.catalog", `${name}: writing catalogs for ${imageDir}`, { image: name, imageDir });
  const catalog = await writeImageCatalogs(tree, imageDir, store, { mtime: Math.floor(now.getTime() / 1000), logger });
  return { imageDir, catalog, metadata, stats };
}
