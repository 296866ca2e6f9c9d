import { z } from "zod";
import { formatRepositoryJson, parseRepositoryJson } from "../repository-json.js";

/**
 * The JSON file inside each image directory's `.singularity.d/` that makes the published state
 * readable from the repository alone (no side database): which references point at the image,
 * which manifest it was converted from (so a plan can compare manifest digests by a cheap HEAD,
 * without fetching anything), its config, and its size.
 */
export const IMAGE_METADATA_PATH = ".singularity.d/cvmfs-image-sync.json";

/** Format version; bump on an incompatible change and keep reading the old one. */
export const IMAGE_METADATA_VERSION = 1;

const Digest = z.string().regex(/^[a-z0-9]+:[a-f0-9]{32,}$/);

/** One layer as the manifest named it (OCI descriptor fields). */
export const ImageMetadataLayer = z.object({ digest: Digest, size: z.number().int().nonnegative(), mediaType: z.string() });
export type ImageMetadataLayer = z.infer<typeof ImageMetadataLayer>;

/**
 * The file's schema, version 1. `config` is the OCI image configuration as fetched (image-spec
 * config.md), kept whole (loose object) so nothing is lost for later readers.
 */
export const ImageMetadata = z.object({
  version: z.literal(IMAGE_METADATA_VERSION),
  /** Normalised references (tag or digest form) published pointing at this image. */
  references: z.array(z.string()),
  /** Digest of the image manifest (not of an index). */
  manifestDigest: Digest,
  /** Digest of the index the manifest was chosen from, when there was one. */
  indexDigest: Digest.optional(),
  /** Digest of the config blob: the image directory's key. */
  configDigest: Digest,
  /** `os/arch[/variant]`, e.g. `linux/amd64`. */
  platform: z.string().regex(/^[a-z0-9]+\/[a-z0-9]+(?:\/[a-z0-9]+)?$/),
  /** Base layer first. */
  layers: z.array(ImageMetadataLayer),
  config: z.looseObject({}),
  /** When the image was converted, ISO 8601. */
  convertedAt: z.iso.datetime({ offset: true }),
  /** Number of regular files in the image tree (hard links counted per name). */
  files: z.number().int().nonnegative(),
  /** Total bytes of regular files in the image tree. */
  bytes: z.number().int().nonnegative(),
});
export type ImageMetadata = z.infer<typeof ImageMetadata>;

/**
 * The file's bytes: pretty JSON with a final newline, keys in schema order, so two conversions of
 * the same image differ only where they truly differ (references, time).
 */
export function formatImageMetadata(metadata: ImageMetadata): Buffer {
  const checked = ImageMetadata.parse(metadata);
  return formatRepositoryJson(checked);
}

/** Parse the file's bytes; throws RepositoryError naming `where` when it is not valid metadata. */
export function parseImageMetadata(bytes: Buffer | string, where: string): ImageMetadata {
  return parseRepositoryJson(ImageMetadata, bytes, "image metadata", where);
}
