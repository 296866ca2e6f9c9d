import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ObjectSuffix } from "../../content/content-store.js";
import { info, silentLogger, warn, type Logger } from "../../logger.js";
import type { Manifest } from "../repository/manifest.js";
import { readReflog, type ReflogRef, type ReflogType } from "../repository/reflog.js";
import type { Stratum0 } from "../repository/stratum0.js";
import { listRevisions } from "./list-revisions.js";
import { markReachable, objectKey } from "./mark-reachable.js";
import { writePrunedHistory } from "./prune-history.js";
import { planRetention, type RetentionPolicy } from "./retention.js";
import { filesystemNow, sweepObjects } from "./sweep-objects.js";

/**
 * Garbage collection of a local stratum 0: the composition of the retention plan, the mark, the
 * new history and manifest, and the sweep.
 *
 * Order is what makes it safe to kill at any moment. Everything runs under the publish lock,
 * so no publish interleaves. Nothing is deleted until a manifest is live whose history and
 * reflog name only what is kept: first the kept set is marked, then a pruned history object is
 * stored (unreferenced until then), then the reflog and the re-signed manifest (`G=yes`) go in by
 * rename exactly as a publish does, and only then are unreachable objects deleted, one by one.
 * A crash before the rename leaves the repository as it was (plus an unreferenced history
 * object); after it, every remaining deletion removes an object nothing kept refers to.
 */

/** Points after which a fault hook runs (tests kill the process there). */
export type GcStep = "mark" | "history" | "publish" | "delete";

export interface GcOptions {
  retention: RetentionPolicy;
  /** Report what would go; write and delete nothing. */
  dryRun?: boolean;
  logger?: Logger;
  /** Clock for the retention window (not for file times); default `new Date()`. */
  now?: () => Date;
  signal?: AbortSignal;
  /** Called after each step ("delete": after every deleted object). */
  faultHook?: (step: GcStep) => void | Promise<void>;
}

export interface GcResult {
  /** The published revision (unchanged by gc). */
  revision: number;
  /** Revision numbers kept, newest first. */
  keptRevisions: number[];
  /** Revision numbers collected (their tags leave the history), newest first. */
  droppedRevisions: number[];
  /** Catalogs of the kept revisions (each counted once). */
  catalogs: number;
  /** Reachable objects present in `data/`. */
  objectsKept: number;
  objectsDeleted: number;
  /** Stored (compressed) bytes deleted. */
  bytesDeleted: number;
  /** Unreachable objects left because they were written while gc ran. */
  recentObjects: number;
  /** Whether a new manifest (pruned history and reflog, `G=yes`) was published. */
  resigned: boolean;
  dryRun: boolean;
  seconds: number;
}

const SUFFIX_OF: Record<ReflogType, ObjectSuffix> = { catalog: "C", certificate: "X", history: "H", metainfo: "M" };

/**
 * Collect the garbage of `s0` under its publish lock: keep the published revision and the
 * revisions `opts.retention` keeps (with everything they reach, and the manifest's certificate,
 * history and meta-info), prune the history and reflog to them, publish that manifest with
 * `G=yes`, then delete every other object under `data/`. Throws RepositoryError (nothing
 * deleted) when a kept revision cannot be read whole.
 */
export function garbageCollect(s0: Stratum0, opts: GcOptions): Promise<GcResult> {
  const logger = opts.logger ?? silentLogger;
  const dryRun = opts.dryRun === true;
  const fault = async (step: GcStep) => opts.faultHook?.(step);
  return s0.withLock(async () => {
    const started = performance.now();
    const protectFrom = await filesystemNow(s0.dir);
    const now = opts.now?.() ?? new Date();
    const manifest = await s0.refresh();
    const tmp = await mkdtemp(join(tmpdir(), "cvmfs-gc-"));
    try {
      const revisions = await listRevisions(s0.store, manifest, opts.retention, now, tmp);
      const plan = planRetention(revisions, manifest.catalogHash, opts.retention, now);
      for (const r of plan.dropped.filter((d) => !d.available)) {
        warn(logger, "gc.missing-revision", `revision ${r.revision} (${r.tags.join(", ")}): root catalog ${r.rootHash}C is gone; its tags leave the history`, {
          revision: r.revision,
        });
      }
      const keptRevisions = plan.kept.map((r) => r.revision);
      const droppedRevisions = plan.dropped.map((r) => r.revision);
      info(logger, "gc.plan", `keeping ${keptRevisions.length} revision(s) (${keptRevisions.join(", ")}), collecting ${droppedRevisions.length}`, {
        kept: keptRevisions,
        dropped: droppedRevisions,
      });

      const reachable = new Set<string>();
      const catalogs = await markReachable(s0.store, plan.kept.map((r) => r.rootHash), reachable, { tmpDir: tmp, logger, signal: opts.signal });
      await fault("mark");

      const dropTags = plan.dropped.flatMap((r) => r.tags);
      let historyHash = manifest.historyHash;
      if (historyHash !== undefined && dropTags.length > 0) {
        // A dry run stores nothing; the history it would replace counts as garbage all the same.
        historyHash = dryRun ? undefined : await writePrunedHistory(s0.store, historyHash, dropTags, tmp);
        if (!dryRun) await fault("history");
      }
      addManifestObjects(reachable, { ...manifest, historyHash });
      const dropRefs = new Set(
        liveReflog(s0.dir)
          .filter((r) => !reachable.has(objectKey(r.hash, SUFFIX_OF[r.type])))
          .map((r) => r.hash),
      );

      let resigned = false;
      if (!dryRun && (historyHash !== manifest.historyHash || dropRefs.size > 0 || !manifest.garbageCollectable)) {
        opts.signal?.throwIfAborted();
        const next = await s0.resign({ baseRootHash: manifest.catalogHash, historyHash, dropRefs, garbageCollectable: true });
        addManifestObjects(reachable, next);
        resigned = true;
        info(logger, "gc.publish", `re-signed revision ${next.revision}: ${dropTags.length} tag(s) and ${dropRefs.size} reflog entr${dropRefs.size === 1 ? "y" : "ies"} removed, G=yes`, {
          revision: next.revision,
          droppedTags: dropTags.length,
          droppedRefs: dropRefs.size,
        });
        await fault("publish");
      }

      const sweep = await sweepObjects(s0.dir, reachable, {
        protectFrom,
        dryRun,
        onDelete: () => fault("delete"),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const missing = reachable.size - sweep.kept;
      if (missing > 0) {
        warn(logger, "gc.missing-objects", `${missing} object(s) the kept revisions refer to are not in the store; run verify`, { missing });
      }
      return {
        revision: manifest.revision,
        keptRevisions,
        droppedRevisions,
        catalogs,
        objectsKept: sweep.kept,
        objectsDeleted: sweep.deleted,
        bytesDeleted: sweep.deletedBytes,
        recentObjects: sweep.recent,
        resigned,
        dryRun,
        seconds: (performance.now() - started) / 1000,
      };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
}

/** The references of `.cvmfsreflog`; none when it is missing (a publish starts a new one). */
function liveReflog(dir: string): ReflogRef[] {
  const file = join(dir, ".cvmfsreflog");
  return existsSync(file) ? readReflog(file) : [];
}

/** The manifest's own objects: certificate, history and meta-info. */
function addManifestObjects(reachable: Set<string>, m: Pick<Manifest, "certificateHash" | "historyHash" | "metainfoHash">): void {
  if (m.certificateHash !== undefined) reachable.add(objectKey(m.certificateHash, "X"));
  if (m.historyHash !== undefined) reachable.add(objectKey(m.historyHash, "H"));
  if (m.metainfoHash !== undefined) reachable.add(objectKey(m.metainfoHash, "M"));
}
