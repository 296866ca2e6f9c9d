import { createHash } from "node:crypto";
import pLimit from "p-limit";
import { errorCode } from "../errors.js";
import { info, warn, type Logger } from "../logger.js";
import type { RegistryClient } from "../registry/registry-client.js";
import type { Platform } from "../registry/image.js";
import { formatImageReference, parseImageReference, withDigest } from "../wishlist/reference.js";
import { applyTagEdits, assembleTagEdits, dueRemovals, touchedPaths } from "./apply-plan.js";
import type { RepositoryLayout } from "./layout.js";
import type { Plan } from "./plan.js";
import { prepareImage } from "./prepare-image.js";
import type { PublishedState } from "./published-state.js";
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
  seconds?: number;
  result: "ok" | "failed" | "skipped";
  error?: string;
}

export interface SyncResult {
  rows: SyncRow[];
  /** New revision, when something was published. */
  revision?: number;
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
}

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
  files?: number;
  bytes?: number;
  newBytes?: number;
  seconds: number;
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
  const converted = new Map<string, Converted>();
  const preparedDirs = new Set<string>();
  const limit = pLimit(opts.concurrency);
  const shard = opts.shard && opts.shard.total > 1 ? opts.shard : undefined;
  // A conversion and every name that waits for it share a shard (keyed by manifest digest), so no
  // two runners write one image directory; other names go by their path, removals by config hex.
  const mine = (key: string): boolean => shard === undefined || shardOf(key, shard.total) === shard.index;

  await Promise.all(
    plan.conversions.filter((c) => mine(c.manifestDigest)).map((conversion) =>
      limit(async () => {
        const started = Date.now();
        const reference = conversion.references[0] ?? "";
        const ref = withDigest(parseImageReference(reference), conversion.manifestDigest);
        const name = formatImageReference({ ...ref, digest: undefined });
        try {
          info(logger, "image.resolve", `fetching ${name}`, { image: name });
          const image = await opts.registry.image(ref, opts.platform, { signal: opts.signal });
          const imageDir = layout.imageDir(image.configDigest);
          dirOfManifest.set(conversion.manifestDigest, imageDir);
          const hex = layout.configHexOf(imageDir)!;
          if (state.images.has(hex) || preparedDirs.has(imageDir)) {
            info(logger, "image.done", `${name}: same content as ${imageDir}, nothing to convert`, { image: name, imageDir });
            converted.set(conversion.manifestDigest, { imageDir, seconds: (Date.now() - started) / 1000 });
            return;
          }
          preparedDirs.add(imageDir);
          info(logger, "image.layers", `${name}: ${image.layers.length} layers`, { image: name, layers: image.layers.length });
          const store = await target.imageStore(hex.slice(0, 12));
          const prepared = await prepareImage(image, imageDir, {
            store,
            cacheDir: opts.cacheDir,
            references: conversion.references,
            logger,
            ...(opts.signal ? { signal: opts.signal } : {}),
            now,
          });
          info(logger, "image.publish", `${name}: publishing ${imageDir}`, { image: name });
          const published = await target.publishImage(
            {
              leasePath: imageDir,
              edit: async (editor) => {
                await editor.mountNested(imageDir, prepared.catalog);
                return true;
              },
              tagName: `image-${hex.slice(0, 12)}`,
              tagDescription: `add ${name}`,
            },
            store,
          );
          converted.set(conversion.manifestDigest, {
            imageDir,
            files: prepared.metadata.files,
            bytes: prepared.metadata.bytes,
            newBytes: published.uploadedBytes ?? store.bytesWritten,
            seconds: (Date.now() - started) / 1000,
          });
          info(logger, "image.done", `${name} → ${imageDir}`, { image: name, imageDir, files: prepared.metadata.files, bytes: prepared.metadata.bytes });
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          failedManifests.set(conversion.manifestDigest, message);
          logger.log({ level: "error", event: "image.failed", message: `${name}: ${message}`, fields: { image: name, code: errorCode(err) } });
        }
      }),
    ),
  );

  const edits = assembleTagEdits(plan, dirOfManifest, failedManifests).filter(({ tag }) =>
    mine(tag.convert && tag.manifestDigest ? tag.manifestDigest : tag.publicPath),
  );
  const removals = dueRemovals(plan, edits).filter((dir) => mine(layout.configHexOf(dir) ?? dir));
  // One writer for the schedule file: every shard computes the same one from the same state.
  const scheduleChanged = (shard === undefined || shard.index === 1) && JSON.stringify(plan.schedule) !== JSON.stringify(state.schedule);
  // A local stratum 0 publishes the queued image mounts with the final change; a gateway already did.
  const mountsQueued = target.kind === "local" && [...converted.values()].some((c) => c.files !== undefined);
  const anyChange = edits.some((e) => e.changed) || removals.length > 0 || scheduleChanged || mountsQueued;
  let revision: number | undefined;
  if (anyChange) {
    const paths = touchedPaths(edits, removals, scheduleChanged ? layout.removalSchedulePath : undefined);
    const result = await target.publish({
      leasePath: commonParent(paths),
      edit: (editor, store) =>
        applyTagEdits(editor, edits, removals, {
          layout,
          next: scheduleChanged ? plan.schedule : state.schedule,
          previous: state.schedule,
          store,
          mtime: Math.floor(now.getTime() / 1000),
        }),
      tagName: `sync-${now.toISOString().replace(/[:.]/g, "-")}`,
      tagDescription: `cvmfs-image-sync: ${plan.summary.add} added, ${plan.summary.update} updated, ${plan.summary.remove} removed`,
    });
    revision = result?.revision;
    if (revision !== undefined) info(logger, "sync.published", `published revision ${revision}`, { revision });
  } else {
    info(logger, "sync.unchanged", "the repository already matches the wishlist: nothing published");
  }
  for (const r of removals) info(logger, "image.removed", `removed ${r}`, { imageDir: r });
  const rows = summaryRows(plan, edits, converted, failedManifests, shard && shard.index !== 1 ? [] : resolveFailures, mine);
  const failed = rows.filter((r) => r.result === "failed").length;
  if (failed > 0) warn(logger, "sync.failed", `${failed} image(s) failed; the rest were published`, { failed });
  return { rows, ...(revision !== undefined ? { revision } : {}), failed };
}

function summaryRows(
  plan: Plan,
  edits: ReturnType<typeof assembleTagEdits>,
  converted: ReadonlyMap<string, Converted>,
  failed: ReadonlyMap<string, string>,
  resolveFailures: readonly ResolveFailure[],
  mine: (key: string) => boolean,
): SyncRow[] {
  const rows: SyncRow[] = edits.map(({ tag, skipped }) => {
    const conv = tag.manifestDigest ? converted.get(tag.manifestDigest) : undefined;
    const error = tag.manifestDigest ? failed.get(tag.manifestDigest) : undefined;
    return {
      image: tag.reference ?? tag.publicPath,
      publicPath: tag.publicPath,
      action: tag.action,
      ...(tag.manifestDigest ? { digest: tag.manifestDigest } : {}),
      ...(conv?.files !== undefined ? { files: conv.files } : tag.files !== undefined ? { files: tag.files } : {}),
      ...(conv?.bytes !== undefined ? { bytes: conv.bytes } : tag.bytes !== undefined ? { bytes: tag.bytes } : {}),
      ...(conv?.newBytes !== undefined ? { newBytes: conv.newBytes } : {}),
      ...(conv ? { seconds: conv.seconds } : {}),
      result: error !== undefined ? "failed" : skipped !== undefined ? "skipped" : "ok",
      ...(error !== undefined ? { error } : {}),
    };
  });
  for (const f of resolveFailures) {
    rows.push({ image: f.reference, action: "resolve", result: "failed", error: `${f.entry.file}:${f.entry.line}: ${f.message}` });
  }
  for (const r of plan.imageRemovals.filter((removal) => mine(removal.hex))) {
    rows.push({ image: r.imageDir, action: r.due ? "remove image" : `remove after ${r.removeAfter ?? "?"}`, result: "ok", ...(r.files !== undefined ? { files: r.files } : {}), ...(r.bytes !== undefined ? { bytes: r.bytes } : {}) });
  }
  return rows;
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
