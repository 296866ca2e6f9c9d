import { createHash } from "node:crypto";
import path from "node:path";
import pLimit from "p-limit";
import { ConflictError, errorCode, PlatformError } from "../errors.js";
import { debug, info, warn, type Logger } from "../logger.js";
import type { RegistryClient } from "../registry/registry-client.js";
import { archLinks } from "../platforms/arch-names.js";
import { formatPlatform, type Image, type Platform } from "../registry/image.js";
import { parsePlatform, platformRank } from "../registry/platform.js";
import { formatImageReference, parseImageReference, withDigest } from "../wishlist/reference.js";
import { applyTagEdits, assembleTagEdits, dueRemovals, touchedPaths } from "./apply-plan.js";
import type { ImageMetadata } from "../published/image-metadata.js";
import type { RepositoryLayout } from "../published/layout.js";
import { conversionKey, type Plan } from "./plan.js";
import { extraFormats, FORMATS, type ExtraFormat, type Format } from "../runtimes/formats.js";
import type { LayerResult } from "../layers/process-layer.js";
import { formatNeeds } from "./plan-formats.js";
import { applyFormatChanges, planFormatChanges } from "./format-changes.js";
import { prepareImage } from "./prepare-image.js";
import { fetchPublished, FormatPublisher } from "./publish-formats.js";
import { assembleNameOwners, sameOwners } from "../published/name-owners.js";
import { checkPreconditions } from "./publish-preconditions.js";
import { assemblePublishedIndex, MAX_KNOWN_INDEXES, type PublishedIndex } from "../published/published-index.js";
import type { PublishedState } from "../published/published-state.js";
import type { PublishTarget } from "./publish-target.js";
import type { ResolveFailure } from "./resolve-desired.js";

/** One line of the summary table: a public name, or an image that failed before it had one. */
export interface SyncRow {
  image: string;
  publicPath?: string;
  action: string;
  digest?: string;
  files?: number;
  bytes?: number;
  /** Stored bytes this run added to the repository for the image (after file-level dedup). */
  newBytes?: number;
  /** The formats its image is published in after this run (`sandbox,podman,layers`). */
  formats?: string;
  seconds?: number;
  result: "ok" | "failed" | "skipped";
  error?: string;
}

export interface SyncResult {
  rows: SyncRow[];
  /** New revision, when something was published. */
  revision?: number;
  /**
   * Commits this run made: through a gateway one per converted image (each under its own lease,
   * so runners publish in parallel) plus one for names, removals and the index; locally at most 1.
   */
  commits: number;
  failed: number;
}

export interface ExecuteOptions {
  registry: RegistryClient;
  target: PublishTarget;
  layout: RepositoryLayout;
  platform: Platform;
  cacheDir: string;
  concurrency: number;
  logger: Logger;
  signal?: AbortSignal;
  now?: Date;
  /** Run only this share of the plan (`--shard I/N`), so N runners split a large wishlist. */
  shard?: Shard;
  /**
   * `leave`: do not write the published-state index, for a plan made from part of the state (a
   * registry event's names); the next full sync indexes what this run published. Default `update`.
   */
  index?: "update" | "leave";
  /** What to publish for each image (`--formats`); default the sandbox alone. */
  formats?: readonly Format[];
}

/** How many sentences of a conflict an error message names before "and N more". */
const CONFLICT_DETAILS = 5;

/** Shard `index` (1-based, as GitLab's CI_NODE_INDEX) of `total`. */
export interface Shard {
  index: number;
  total: number;
}

/**
 * The shard a key belongs to: 1 + the first four bytes of its SHA-256, big-endian, modulo the
 * count. Stable across runs and runners, so every runner agrees without talking to the others.
 */
export function shardOf(key: string, total: number): number {
  return 1 + (createHash("sha256").update(key).digest().readUInt32BE(0) % total);
}

interface Converted {
  imageDir: string;
  /** The image was already published: nothing converted, nothing mounted. */
  reused?: boolean;
  /** For a reused image: its config hex and the index it was found in now (remembered in the index). */
  reusedFrom?: { hex: string; indexDigest: string };
  files?: number;
  bytes?: number;
  newBytes?: number;
  seconds: number;
  /** The metadata written into a newly converted image (for the published-state index). */
  metadata?: ImageMetadata;
  /** The conversion published its own revision (gateway). */
  committed?: boolean;
}

/**
 * Carries a plan out: converts each needed image once (however many names want it), `concurrency`
 * at a time, then moves, creates and removes names, deletes images past their grace period and
 * writes the schedule. A failed image does not stop the others: its names keep what they had and
 * its error is in the result. Nothing changed → nothing published (no new revision).
 */
export async function executePlan(
  plan: Plan,
  state: PublishedState,
  resolveFailures: readonly ResolveFailure[],
  opts: ExecuteOptions,
): Promise<SyncResult> {
  const { logger, layout, target } = opts;
  const now = opts.now ?? new Date();
  const dirOfManifest = new Map<string, string>();
  const failedManifests = new Map<string, string>();
  // Platforms a line wants that its image does not offer: a note, not a failure of the line.
  const skippedManifests = new Map<string, string>();
  // The platform of each fetched image, so a per-architecture name only ever gets its own.
  const platformOf = new Map<string, string>();
  const perArchKeys = new Set(plan.tags.flatMap((t) => (t.arch !== undefined && t.manifestDigest ? [conversionKey(t.manifestDigest, t.platform)] : [])));
  const converted = new Map<string, Converted>();
  const extras = extraFormats(opts.formats ?? ["sandbox"]);
  const formats =
    extras.length > 0
      ? new FormatPublisher({ formats: extras, layout, target, state, cacheDir: opts.cacheDir, logger, now, ...(opts.signal ? { signal: opts.signal } : {}) })
      : undefined;
  // Images this run fetched but found published: the format pass below may need them.
  const fetchedImages = new Map<string, Image>();
  const limit = pLimit(opts.concurrency);
  const shard = opts.shard && opts.shard.total > 1 ? opts.shard : undefined;
  // A conversion and every name that waits for it share a shard (keyed by manifest digest); other
  // names go by their path, removals by config hex. Two manifests of one image in different
  // shards may both write its directory: the same content, so the last write changes nothing.
  const mine = (key: string): boolean => shard === undefined || shardOf(key, shard.total) === shard.index;

  const convertAndPublish = async (
    image: Image,
    imageDir: string,
    hex: string,
    name: string,
    references: string[],
    started: number,
  ): Promise<Converted> => {
    info(logger, "image.layers", `${name}: ${image.layers.length} layers`, { image: name, layers: image.layers.length });
    const store = await target.imageStore(hex.slice(0, 12));
    // The layers format builds each layer's own tree from the results the conversion holds anyway.
    const layerResults = formats?.wantsLayers ? new Map<string, LayerResult>() : undefined;
    const prepared = await prepareImage(image, imageDir, {
      store,
      cacheDir: opts.cacheDir,
      references,
      logger,
      ...(opts.signal ? { signal: opts.signal } : {}),
      now,
      ...(layerResults ? { onLayer: (_: number, result: LayerResult) => void layerResults.set(result.digest, result) } : {}),
    });
    opts.signal?.throwIfAborted();
    info(logger, "image.publish", `${name}: publishing ${imageDir}`, { image: name });
    const published = await target.publishImage(
      {
        leasePath: imageDir,
        edit: async (editor) => {
          // The images root and each fan-out directory are catalogs of their own, so the root
          // catalog holds names, not one row per image, however many images there are.
          await editor.ensureNestedDir(layout.imagesRoot);
          await editor.ensureNestedDir(path.posix.dirname(imageDir));
          await editor.mountNested(imageDir, prepared.catalog);
          return true;
        },
        tagName: `image-${hex.slice(0, 12)}`,
        tagDescription: `add ${name}`,
      },
      store,
    );
    await formats?.publish(image, { imageDir, hex, bytes: prepared.metadata.bytes }, extras, layerResults);
    info(logger, "image.done", `${name} → ${imageDir}`, { image: name, imageDir, files: prepared.metadata.files, bytes: prepared.metadata.bytes });
    return {
      imageDir,
      files: prepared.metadata.files,
      bytes: prepared.metadata.bytes,
      newBytes: published.uploadedBytes ?? store.bytesWritten,
      seconds: (Date.now() - started) / 1000,
      metadata: prepared.metadata,
      committed: published.revision !== undefined,
    };
  };

  // One conversion per image directory: manifests that turn out to share a config digest await
  // the first one and share its fate, so no name is ever linked to a directory that failed.
  const conversionOf = new Map<string, Promise<Converted>>();
  const convertOnce = (imageDir: string, work: () => Promise<Converted>): { first: boolean; done: Promise<Converted> } => {
    const existing = conversionOf.get(imageDir);
    if (existing) return { first: false, done: existing };
    const done = work();
    done.catch(() => undefined);
    conversionOf.set(imageDir, done);
    return { first: true, done };
  };

  await Promise.all(
    plan.conversions.filter((c) => mine(c.manifestDigest)).map((conversion) =>
      limit(async () => {
        const started = Date.now();
        const key = conversionKey(conversion.manifestDigest, conversion.platform);
        const wanted = conversion.platform ? parsePlatform(conversion.platform) : opts.platform;
        const reference = conversion.references[0] ?? "";
        const ref = withDigest(parseImageReference(reference), conversion.manifestDigest);
        const name = formatImageReference({ ...ref, digest: undefined });
        try {
          opts.signal?.throwIfAborted();
          info(logger, "image.resolve", `fetching ${name}`, { image: name });
          const image = await opts.registry.image(ref, wanted, { signal: opts.signal });
          platformOf.set(key, formatPlatform(image.platform));
          // A single-platform manifest is what it is: published for its own platform only.
          if (conversion.platform && platformRank(wanted, image.platform) === undefined) {
            throw new PlatformError(formatPlatform(wanted), [formatPlatform(image.platform)], name);
          }
          const imageDir = layout.imageDir(image.configDigest);
          const hex = layout.configHexOf(imageDir)!;
          const published = state.images.get(hex);
          if (published) {
            fetchedImages.set(imageDir, image);
            info(logger, "image.done", `${name}: same content as ${imageDir}, nothing to convert`, { image: name, imageDir });
            dirOfManifest.set(key, imageDir);
            converted.set(key, {
              imageDir,
              seconds: (Date.now() - started) / 1000,
              ...(published.metadata ? { files: published.metadata.files, bytes: published.metadata.bytes } : {}),
              newBytes: 0,
              reused: true,
              ...(image.indexDigest ? { reusedFrom: { hex, indexDigest: image.indexDigest } } : {}),
            });
            return;
          }
          const work = () => convertAndPublish(image, imageDir, hex, name, conversion.references, started);
          let { first, done } = convertOnce(imageDir, work);
          if (!first) info(logger, "image.wait", `${name}: same content as another image in this run, converted once`, { image: name, imageDir });
          let result: Converted;
          try {
            result = await done;
          } catch (err) {
            if (first) throw err;
            // The other manifest's conversion failed (its layers, say); these layers may be fine.
            if (conversionOf.get(imageDir) === done) conversionOf.delete(imageDir);
            ({ first, done } = convertOnce(imageDir, work));
            result = await done;
          }
          dirOfManifest.set(key, imageDir);
          converted.set(key, first ? result : { ...result, newBytes: 0, seconds: (Date.now() - started) / 1000 });
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          if (err instanceof PlatformError && (conversion.platform !== undefined || perArchKeys.has(key))) {
            skippedManifests.set(key, `[${err.code}] ${message}`);
            info(logger, "image.platform-missing", `${name}: ${message}; its other platforms go on`, { image: name, platform: err.wanted });
            return;
          }
          failedManifests.set(key, `[${errorCode(err)}] ${message}`);
          logger.log({ level: "error", event: "image.failed", message: `${name}: ${message}`, fields: { image: name, code: errorCode(err) } });
        }
      }),
    ),
  );
  opts.signal?.throwIfAborted();

  const allEdits = assembleTagEdits(plan, dirOfManifest, failedManifests, { skipped: skippedManifests, platformOf });
  const edits = allEdits.filter(({ tag }) => mine(tag.convert && tag.manifestDigest ? tag.manifestDigest : tag.publicPath));
  // Published images that lack a wanted format get it now, before the names commit that lists them.
  if (formats) {
    await Promise.all(
      formatNeeds(edits, state, layout, extras, formats.done).map(({ imageDir, hex, need, tag }) =>
        limit(() =>
          formats.publish(
            async () => fetchedImages.get(imageDir) ?? fetchPublished(opts, tag),
            { imageDir, hex, bytes: state.images.get(hex)?.metadata?.bytes ?? 0 },
            need,
          ),
        ),
      ),
    );
    opts.signal?.throwIfAborted();
  }
  const removals = dueRemovals(plan, allEdits, dirOfManifest.values()).filter((dir) => mine(layout.configHexOf(dir) ?? dir));
  // One writer for the schedule file and the index: every shard computes the same schedule from
  // the same state; the images other shards convert reach the index at the next run.
  const firstShard = shard === undefined || shard.index === 1;
  const scheduleChanged = firstShard && JSON.stringify(plan.schedule) !== JSON.stringify(state.schedule);
  const index = firstShard && opts.index !== "leave" ? nextIndex(state, converted.values(), removals, formats?.done) : undefined;
  // The formats' shared parts (the Podman stores, layer directories) have one writer too, and a
  // registry event's run, which reads only the part of the state its names lead to, leaves the
  // stores to the next full sync (it would otherwise write them from that part alone).
  const formatChanges = firstShard && opts.index !== "leave"
    ? planFormatChanges({
        layout,
        state,
        edits,
        removals,
        joining: formats?.podman ?? new Map(),
        convertedLayers: [...converted.values()].flatMap((c) => c.metadata?.layers.map((l) => l.digest) ?? []),
      })
    : { podman: [], rewritten: [], layerRemovals: [] };
  // Names whose add failed were not created: they get no owner.
  const owners = new Map(plan.owners);
  for (const e of edits) {
    if (e.skipped === undefined || e.tag.action !== "add") continue;
    const before = state.owners.get(e.tag.publicPath);
    if (before) owners.set(e.tag.publicPath, before);
    else owners.delete(e.tag.publicPath);
  }
  const ownersChanged = firstShard && !sameOwners(owners, state.owners);
  if (index?.reason && state.images.size > 0) info(logger, "sync.index", `rewriting the published-state index (${index.reason})`, { reason: index.reason });
  // A local stratum 0 publishes the queued image mounts with the final change; a gateway already did.
  const mountsQueued = target.kind === "local" && ([...converted.values()].some((c) => !c.reused) || (formats?.publishedLayers.length ?? 0) > 0);
  const formatsChanged = formatChanges.podman.length > 0 || formatChanges.layerRemovals.length > 0;
  const anyChange =
    edits.some((e) => e.changed) || removals.length > 0 || scheduleChanged || ownersChanged || mountsQueued || index?.changed === true || formatsChanged;
  let revision: number | undefined;
  let commits = [...converted.values()].filter((c) => c.committed).length;
  if (anyChange) {
    opts.signal?.throwIfAborted();
    const rewritten = [...(scheduleChanged ? [layout.removalSchedulePath] : []), ...(ownersChanged ? [layout.ownersPath] : []), ...formatChanges.rewritten];
    // A new per-architecture name (re)writes the tree's own links: the lease must cover them.
    const archNames = edits.some((e) => e.changed && e.tag.action !== "remove" && e.tag.publicPath.startsWith(`${layout.archRoot}/`));
    const paths = [
      ...touchedPaths(edits, removals, undefined),
      ...rewritten,
      ...(index?.changed ? [layout.indexPath] : []),
      ...(archNames ? archLinks().map((l) => l.path) : []),
      ...formatChanges.podman.map((store) => `${store.root}/overlay`),
      ...formatChanges.layerRemovals,
    ];
    const result = await target.publish({
      leasePath: commonParent(paths),
      edit: async (editor, store) => {
        const problems = await checkPreconditions(editor, { layout, state, names: edits.map((e) => e.tag.publicPath), files: rewritten, removals });
        if (problems.length > 0) {
          const more = problems.length > CONFLICT_DETAILS ? ` and ${problems.length - CONFLICT_DETAILS} more` : "";
          throw new ConflictError(`the repository changed since this run planned: ${problems.slice(0, CONFLICT_DETAILS).join("; ")}${more}`);
        }
        const mtime = Math.floor(now.getTime() / 1000);
        // The stores first: an architecture's store that goes empties its directory, which the
        // names' clean-up then takes along with the per-architecture tree's links.
        const formatsApplied = await applyFormatChanges(editor, formatChanges, { layout, store, mtime });
        const namesChanged = await applyTagEdits(editor, edits, removals, {
          layout,
          next: scheduleChanged ? plan.schedule : state.schedule,
          previous: state.schedule,
          store,
          mtime,
          ...(index?.changed ? { index: index.index } : {}),
          ...(ownersChanged ? { owners: assembleNameOwners(owners) } : {}),
        });
        return formatsApplied || namesChanged;
      },
      tagName: `sync-${now.toISOString().replace(/[:.]/g, "-")}`,
      tagDescription: `cvmfs-image-sync: ${plan.summary.add} added, ${plan.summary.update} updated, ${plan.summary.remove} removed`,
    });
    revision = result?.revision;
    if (result) commits++;
    if (revision !== undefined) debug(logger, "sync.published", `published revision ${revision}`, { revision, commits });
  } else {
    info(logger, "sync.unchanged", "no change to publish");
  }
  for (const r of removals) info(logger, "image.removed", `removed ${r}`, { imageDir: r });
  const failures = shard && shard.index !== 1 ? [] : resolveFailures;
  // The formats each name's image has after the run: what the index knew, and what this run added.
  const formatsOf = (imageDir: string): string | undefined => {
    const hex = layout.configHexOf(imageDir);
    if (hex === undefined || (extras.length === 0 && state.podman.size === 0 && state.layers.size === 0)) return undefined;
    const have = new Set<string>(["sandbox", ...(state.images.get(hex)?.formats ?? []), ...(formats?.done.get(hex) ?? [])]);
    return FORMATS.filter((f) => have.has(f)).join(",");
  };
  const failedFormats = formats?.failed ?? new Map<string, string>();
  const rows = summaryRows(plan, edits, converted, failedManifests, failures, { removals, layout, mine, formatsOf, failedFormats });
  // Images, not names: one image behind three tags failing is one failure.
  const failed = new Set(edits.flatMap((e) => (e.tag.manifestDigest && failedManifests.has(keyOf(e.tag)) ? [keyOf(e.tag)] : []))).size + failures.length + failedFormats.size;
  if (failed > 0) {
    const rest = revision !== undefined ? "the rest were published" : "nothing else needed publishing";
    warn(logger, "sync.failed", `${failed} image(s) failed; ${rest}`, { failed });
  }
  return { rows, ...(revision !== undefined ? { revision } : {}), commits, failed };
}

/**
 * The index after this run: the published images that have metadata, plus this run's new
 * conversions, minus its removals. `changed` when its set of images differs from the index found
 * (or that one was missing or stale); `reason` says why a run with nothing else to do writes it.
 */
function nextIndex(
  state: PublishedState,
  converted: Iterable<Converted>,
  removals: readonly string[],
  formatsDone: ReadonlyMap<string, ReadonlySet<ExtraFormat>> = new Map(),
): { index: PublishedIndex; changed: boolean; reason?: string } {
  const images = new Map<string, { hex: string; dir: string; metadata: ImageMetadata; indexes?: string[]; formats?: ExtraFormat[] }>();
  for (const image of state.images.values()) {
    if (image.metadata) {
      images.set(image.hex, {
        hex: image.hex,
        dir: image.dir,
        metadata: image.metadata,
        ...(image.indexes ? { indexes: image.indexes } : {}),
        ...(image.formats ? { formats: image.formats } : {}),
      });
    }
  }
  let added = false;
  for (const c of converted) {
    const known = c.reusedFrom ? images.get(c.reusedFrom.hex) : undefined;
    if (c.reusedFrom && known && known.metadata.indexDigest !== c.reusedFrom.indexDigest && !known.indexes?.includes(c.reusedFrom.indexDigest)) {
      known.indexes = [...(known.indexes ?? []), c.reusedFrom.indexDigest].slice(-MAX_KNOWN_INDEXES);
      added = true;
    }
    if (c.reused || !c.metadata) continue;
    const hex = c.metadata.configDigest.slice(c.metadata.configDigest.indexOf(":") + 1);
    if (!images.has(hex)) added = true;
    images.set(hex, { hex, dir: c.imageDir, metadata: c.metadata });
  }
  // What formats this run gave images (published before or converted now).
  for (const [hex, done] of formatsDone) {
    const image = images.get(hex);
    if (!image) continue;
    const merged = [...new Set([...(image.formats ?? []), ...done])].sort();
    if (merged.length !== (image.formats?.length ?? 0)) added = true;
    image.formats = merged;
  }
  const removed = new Set(removals);
  for (const [hex, image] of images) if (removed.has(image.dir)) images.delete(hex);
  const index = assemblePublishedIndex(images.values());
  // A repository with no image needs no index: an empty run into a new repository publishes nothing.
  if (state.index === "missing" && images.size === 0) return { index, changed: false };
  if (state.index !== "current") return { index, changed: true, reason: state.index };
  return { index, changed: added || removed.size > 0 };
}

function summaryRows(
  plan: Plan,
  edits: ReturnType<typeof assembleTagEdits>,
  converted: ReadonlyMap<string, Converted>,
  failed: ReadonlyMap<string, string>,
  resolveFailures: readonly ResolveFailure[],
  ctx: {
    removals: readonly string[];
    layout: RepositoryLayout;
    mine: (key: string) => boolean;
    formatsOf: (imageDir: string) => string | undefined;
    failedFormats: ReadonlyMap<string, string>;
  },
): SyncRow[] {
  // A name kept because its line could not be resolved is one row: kept, and why it failed.
  const failureOfPath = new Map<string, ResolveFailure>();
  const unmatched: ResolveFailure[] = [];
  for (const f of resolveFailures) {
    let path: string | undefined;
    try {
      path = f.entry.tagPattern === undefined ? ctx.layout.publicPath(parseImageReference(f.reference)) : undefined;
    } catch {
      path = undefined;
    }
    if (path !== undefined && edits.some((e) => e.tag.publicPath === path)) failureOfPath.set(path, f);
    else unmatched.push(f);
  }
  const rows: SyncRow[] = edits.map(({ tag, skipped, imageDir }) => {
    const conv = tag.manifestDigest ? converted.get(keyOf(tag)) : undefined;
    const resolveFailure = failureOfPath.get(tag.publicPath);
    const formatFailure = imageDir !== undefined && tag.action !== "remove" ? ctx.failedFormats.get(imageDir) : undefined;
    const error = resolveFailure
      ? `[${resolveFailure.code}] ${resolveFailure.entry.file}:${resolveFailure.entry.line}: ${resolveFailure.message} (published name kept)`
      : ((tag.manifestDigest ? failed.get(keyOf(tag)) : undefined) ?? (formatFailure !== undefined ? `formats ${formatFailure}` : undefined));
    const formats = imageDir !== undefined && tag.action !== "remove" ? ctx.formatsOf(imageDir) : undefined;
    return {
      // A per-architecture name says which platform it is: one reference has a row per platform.
      image: tag.reference !== undefined && tag.arch !== undefined ? `${tag.reference} (${tag.arch})` : (tag.reference ?? tag.publicPath),
      publicPath: tag.publicPath,
      action: tag.action,
      ...(tag.manifestDigest ? { digest: tag.manifestDigest } : {}),
      ...(conv?.files !== undefined ? { files: conv.files } : tag.files !== undefined ? { files: tag.files } : {}),
      ...(conv?.bytes !== undefined ? { bytes: conv.bytes } : tag.bytes !== undefined ? { bytes: tag.bytes } : {}),
      ...(conv?.newBytes !== undefined ? { newBytes: conv.newBytes } : {}),
      ...(conv ? { seconds: conv.seconds } : {}),
      ...(formats !== undefined ? { formats } : {}),
      result: error !== undefined ? "failed" : skipped !== undefined ? "skipped" : "ok",
      ...(error !== undefined ? { error } : skipped?.startsWith("[E_PLATFORM]") ? { error: skipped } : {}),
    };
  });
  for (const f of unmatched) {
    rows.push({ image: f.reference, action: "resolve", result: "failed", error: `[${f.code}] ${f.entry.file}:${f.entry.line}: ${f.message}` });
  }
  const removed = new Set(ctx.removals);
  for (const r of plan.imageRemovals.filter((removal) => ctx.mine(removal.hex))) {
    if (r.due && !removed.has(r.imageDir)) continue; // still in use after all: kept
    rows.push({
      image: r.imageDir,
      action: r.due ? "remove image" : `remove after ${r.removeAfter ?? "?"}`,
      result: "ok",
      ...(r.files !== undefined ? { files: r.files } : {}),
      ...(r.bytes !== undefined ? { bytes: r.bytes } : {}),
    });
  }
  return rows;
}

/** The conversion a name waits for: its digest, and its platform when not the run's default. */
function keyOf(tag: { manifestDigest?: string; platform?: string }): string {
  return conversionKey(tag.manifestDigest ?? "", tag.platform);
}

/** The deepest directory holding every path's parent (the lease for the final change). */
export function commonParent(paths: readonly string[]): string {
  let common: string[] | undefined;
  for (const p of paths) {
    const parts = p.split("/").filter(Boolean).slice(0, -1);
    if (!common) common = parts;
    else {
      let i = 0;
      while (i < common.length && i < parts.length && common[i] === parts[i]) i++;
      common = common.slice(0, i);
    }
  }
  return common && common.length > 0 ? `/${common.join("/")}` : "/";
}
