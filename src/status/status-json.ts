import { z } from "zod";
import { ImageMetadataLayer } from "../published/image-metadata.js";
import { ReportError, RunReport, ShardInfo, WishlistOrigin } from "./run-report.js";

/**
 * `status.json`: the model the status page is drawn from, published beside `index.html` for
 * other tools, and read back as `--previous` by the next run (to say since when a failure lasts
 * and when a name was last checked). Version 1; a change that old readers would misread bumps the
 * version. The README ("status.json") documents every field.
 */
export const STATUS_JSON_VERSION = 1;

const Iso = z.iso.datetime({ offset: true });
const Count = z.number().int().nonnegative();
const Hex = z.string().regex(/^[a-f0-9]{32,}$/);

/** The shapes a published image comes in. Only `sandbox` (an Apptainer sandbox directory) is written today. */
export const StatusFormat = z.enum(["sandbox", "podman", "layers"]);
export type StatusFormat = z.infer<typeof StatusFormat>;

/** What a container started from the image runs and sees (OCI config `config.*`), as far as it is set. */
export const StatusRunConfig = z.object({
  entrypoint: z.array(z.string()).nullable(),
  cmd: z.array(z.string()).nullable(),
  workingDir: z.string().nullable(),
  user: z.string().nullable(),
  env: z.array(z.string()),
  labels: z.record(z.string(), z.string()),
});
export type StatusRunConfig = z.infer<typeof StatusRunConfig>;

/** One image directory, from its metadata. */
export const StatusImage = z.object({
  /** Config digest hex: the key names refer to. */
  hex: Hex,
  /** Its directory in the repository, e.g. `/.images/ab/cdef…`. */
  dir: z.string().startsWith("/"),
  configDigest: z.string(),
  manifestDigest: z.string(),
  indexDigest: z.string().optional(),
  platform: z.string(),
  convertedAt: Iso,
  files: Count,
  bytes: Count,
  references: z.array(z.string()),
  layers: z.array(ImageMetadataLayer),
  config: StatusRunConfig,
  formats: z.array(StatusFormat),
});
export type StatusImage = z.infer<typeof StatusImage>;

/** One published name. */
export const StatusName = z.object({
  /** The name in the repository, e.g. `/library/centos:7`; under `repository.mountPath`. */
  path: z.string().startsWith("/"),
  /** The name as the wishlist writes it, when known; else the normalised reference. */
  name: z.string(),
  /** The part after the colon: the tag, or `sha256-<hex>` for a digest. */
  tag: z.string(),
  /** The image it points at (`images[].hex`). */
  image: Hex,
  formats: z.array(StatusFormat),
  /** When the name got its current image, as far as the reports and the image's conversion tell. */
  publishedAt: Iso.nullable(),
  /** The last run that resolved the name, when a report (or the previous status) says so. */
  lastChecked: Iso.nullable(),
  owners: z.array(z.string()),
  origin: WishlistOrigin.nullable(),
  /** The last run failed to update it: it still serves the image it had. */
  failing: z.boolean(),
  /**
   * For a per-architecture name (`/.multiarch/<arch>/…`): its architecture directory, the same name
   * through the variant link (each node resolves it to its own architecture), and the
   * `CVMFS_ARCH` of the nodes that reach it that way. Absent for every other name.
   */
  perArch: z.object({ arch: z.string(), hostPath: z.string().startsWith("/"), clientArch: z.string() }).optional(),
});
export type StatusName = z.infer<typeof StatusName>;

/** A name or wishlist line the last run could not publish. */
export const StatusFailure = z.object({
  /** The reference the run worked on. */
  image: z.string(),
  publicPath: z.string().startsWith("/").optional(),
  origin: WishlistOrigin.nullable(),
  code: z.string(),
  message: z.string(),
  /** First run seen failing (carried over from `--previous`). */
  since: Iso,
  /** The run that last failed it. */
  lastSeen: Iso,
  shard: ShardInfo.nullable(),
});
export type StatusFailure = z.infer<typeof StatusFailure>;

/** One run report the page was made with (the latest per shard). */
export const StatusRun = z.object({
  shard: ShardInfo.nullable(),
  startedAt: Iso,
  finishedAt: Iso,
  seconds: z.number().nonnegative(),
  result: RunReport.shape.result,
  revision: Count.optional(),
  error: ReportError.optional(),
  summary: RunReport.shape.summary,
});
export type StatusRun = z.infer<typeof StatusRun>;

/** The file's schema, version 1. */
export const StatusJson = z.object({
  version: z.literal(STATUS_JSON_VERSION),
  generatedAt: Iso,
  repository: z.object({
    name: z.string(),
    /** Where clients mount it: `/cvmfs/<name>`. */
    mountPath: z.string(),
    layout: z.enum(["osg", "osg-registry", "ducc"]),
    revision: Count,
    publishedAt: Iso.nullable(),
    images: Count,
    names: Count,
    /** Bytes of every regular file in the repository, counted once per file. */
    bytes: Count,
    /** Bytes of distinct file contents (what the stratum 0 stores before compression); null when not measured. */
    storedBytes: Count.nullable(),
    /** `bytes - storedBytes`: what file-level dedup saves; null when not measured. */
    dedupSavedBytes: Count.nullable(),
  }),
  runs: z.array(StatusRun),
  failures: z.array(StatusFailure),
  /** Sorted by path. */
  names: z.array(StatusName),
  /** Sorted by hex. */
  images: z.array(StatusImage),
  /** What is off in the repository without stopping anything (dangling names, unreadable metadata). */
  problems: z.array(z.string()),
});
export type StatusJson = z.infer<typeof StatusJson>;

/** The file's bytes: compact JSON (it grows with the repository) and a final newline, checked against the schema. */
export function formatStatusJson(status: StatusJson): string {
  return `${JSON.stringify(StatusJson.parse(status))}\n`;
}
