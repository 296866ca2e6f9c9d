import { z } from "zod";
import type { ExtraFormat } from "../runtimes/formats.js";
import { ImageMetadata } from "./image-metadata.js";
import { formatRepositoryJson, parseRepositoryJson } from "../repository-json.js";

/**
 * The published-state index: one JSON file in the images root (`RepositoryLayout.indexPath`)
 * holding every image directory's metadata, so a run reads one object instead of one metadata
 * file (and one nested catalog) per image. A schedule run over thousands of images then costs a
 * HEAD per tag plus a constant.
 *
 * The index is a shortcut, never the truth: the image directories themselves are. A reader checks
 * it against the listing of the images root, and reads the metadata of any directory the index
 * does not name (an image published by a gateway commit whose final commit has not landed yet, a
 * shard that does not write the index, an older version of this tool), ignoring entries for
 * directories that are gone. `sync` rewrites it in the commit that changes the names, and also
 * when it found it missing or stale.
 */

/** Format version; bump on an incompatible change and keep reading the old one. */
export const PUBLISHED_INDEX_VERSION = 1;

const Hex = z.string().regex(/^[a-f0-9]{32,}$/);
const Digest = z.string().regex(/^[a-z0-9]+:[a-f0-9]{32,}$/);

/** How many other index digests an image entry remembers (see `indexes`). */
export const MAX_KNOWN_INDEXES = 4;

export const PublishedIndex = z.object({
  version: z.literal(PUBLISHED_INDEX_VERSION),
  /**
   * By config digest hex: the image directory, the metadata file it holds, and `indexes`: digests
   * of later multi-platform indexes found to hold the same image (newest last). When one platform
   * of an index moves, the others' images are found unchanged; remembering the new index digest
   * here lets the next run keep them on its HEAD alone, as the metadata's `indexDigest` does for
   * the index they were converted from.
   */
  images: z.record(
    Hex,
    z.object({
      dir: z.string().startsWith("/"),
      metadata: ImageMetadata,
      indexes: z.array(Digest).optional(),
      /**
       * The formats beyond the sandbox the image is published in (see src/runtimes/formats.ts).
       * Absent: only the sandbox, or not known (a rebuilt index): a run that wants more looks.
       */
      formats: z.array(z.enum(["podman", "layers"])).optional(),
    }),
  ),
});
export type PublishedIndex = z.infer<typeof PublishedIndex>;

/** The index of a set of images, keys sorted so that equal sets give equal bytes. */
export function assemblePublishedIndex(
  images: Iterable<{ hex: string; dir: string; metadata: ImageMetadata; indexes?: readonly string[]; formats?: readonly ExtraFormat[] }>,
): PublishedIndex {
  const sorted = [...images].sort((a, b) => (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0));
  const entries: PublishedIndex["images"] = {};
  for (const { hex, dir, metadata, indexes, formats } of sorted) {
    entries[hex] = {
      dir,
      metadata,
      ...(indexes && indexes.length > 0 ? { indexes: [...indexes] } : {}),
      ...(formats && formats.length > 0 ? { formats: [...formats].sort() } : {}),
    };
  }
  return { version: PUBLISHED_INDEX_VERSION, images: entries };
}

/** The file's bytes: compact JSON (it grows with the repository), one image a line, final newline. */
export function formatPublishedIndex(index: PublishedIndex): Buffer {
  const checked = PublishedIndex.parse(index);
  const lines = Object.entries(checked.images).map(([hex, image]) => `${JSON.stringify(hex)}:${JSON.stringify(image)}`);
  if (lines.length === 0) return formatRepositoryJson(checked);
  return Buffer.from(`{"version":${checked.version},"images":{\n${lines.join(",\n")}\n}}\n`, "utf8");
}

/** Parse the file's bytes; throws RepositoryError naming `where` when it is not a valid index. */
export function parsePublishedIndex(bytes: Buffer | string, where: string): PublishedIndex {
  return parseRepositoryJson(PublishedIndex, bytes, "published-state index", where);
}
