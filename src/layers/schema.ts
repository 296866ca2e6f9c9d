import { z } from "zod";
import { LAYER_ENTRY_KINDS } from "../tree/layer-entry.js";

/**
 * The layer cache file (see layer-cache.ts): NDJSON, a header line then one line per tar entry in
 * tar order. Our own format, still parsed at the boundary: a cache directory is shared between
 * CI jobs and versions of the tool, and a stale or damaged file must read as a miss, not a crash.
 */

/** First line. `format` and `version` change when the meaning of a line changes. */
export const LayerCacheHeader = z.object({
  format: z.literal("cvmfs-image-sync/layer-cache"),
  // 2: file content may carry `compression: "none"` (an older reader would drop it and flag raw objects zlib).
  version: z.literal(2),
  digest: z.string(),
  hashAlgorithm: z.enum(["sha1", "rmd160", "shake128"]),
  entries: z.number().int().nonnegative(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
});
export type LayerCacheHeader = z.infer<typeof LayerCacheHeader>;

const ChunkRef = z.object({ offset: z.number().int(), size: z.number().int(), hash: z.string() });

/** `FileContent` (src/cvmfs/content.ts). */
const FileContent = z.object({
  size: z.number().int().nonnegative(),
  hash: z.string().nullable(),
  chunks: z.array(ChunkRef).optional(),
  compression: z.literal("none").optional(),
});

/**
 * One entry line. Short keys keep a 100,000-entry layer small: k kind, n tar name, m mode,
 * u uid, g gid, t mtime seconds, ns nanoseconds, x xattrs (name → base64 value), c file content,
 * l link target (symlinks and hardlinks), d [major, minor] device numbers.
 */
export const LayerCacheLine = z.object({
  k: z.enum(LAYER_ENTRY_KINDS),
  n: z.string(),
  m: z.number().int().optional(),
  u: z.number().int().optional(),
  g: z.number().int().optional(),
  t: z.number().int().optional(),
  ns: z.number().int().optional(),
  x: z.record(z.string(), z.string()).optional(),
  c: FileContent.optional(),
  l: z.string().optional(),
  d: z.tuple([z.number().int(), z.number().int()]).optional(),
});
export type LayerCacheLine = z.infer<typeof LayerCacheLine>;
