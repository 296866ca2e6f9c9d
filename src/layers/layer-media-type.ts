import { LayerError } from "../errors.js";
import { MediaTypes } from "../registry/image.js";

/**
 * Layer media types of OCI (image-spec layer.md, media-types.md) and Docker schema 2. The media
 * type only decides whether a blob is a layer we can read at all; how it is compressed is read
 * from its bytes (`uncompressedStream`), because registries and tools mislabel compression.
 */
const LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaTypes.ociLayer,
  MediaTypes.ociLayerGzip,
  MediaTypes.ociLayerZstd,
  MediaTypes.ociLayerNondistributable,
  MediaTypes.ociLayerNondistributableGzip,
  MediaTypes.ociLayerNondistributableZstd,
  MediaTypes.dockerLayerGzip,
  MediaTypes.dockerLayerForeignGzip,
  // Docker's uncompressed and zstd variants, written by some builders.
  "application/vnd.docker.image.rootfs.diff.tar",
  "application/vnd.docker.image.rootfs.diff.tar.zstd",
]);

/** Whether the layer is marked non-distributable ("foreign"): registries may not hold its bytes. */
export function isNondistributable(mediaType: string): boolean {
  return mediaType.includes(".nondistributable.") || mediaType.includes(".foreign.");
}

/** Throws `LayerError` for a media type that is not a filesystem layer (e.g. an artifact or a config). */
export function checkLayerMediaType(mediaType: string, digest: string): void {
  if (!LAYER_TYPES.has(mediaType)) {
    throw new LayerError(`layer ${digest} has media type "${mediaType}", which is not a filesystem layer this tool reads`);
  }
}
