import { Readable } from "node:stream";
import type { ContentStore } from "../content/content-store.js";
import type { CatalogEditor } from "../cvmfs/catalog/editor.js";
import { archLinks, isBareArchRoot } from "../platforms/arch-names.js";
import { parsePlatform, platformRank } from "../registry/platform.js";
import { linkTarget, type RepositoryLayout } from "../published/layout.js";
import { formatNameOwners, type NameOwners } from "../published/name-owners.js";
import { formatPublishedIndex, type PublishedIndex } from "../published/published-index.js";
import { conversionKey, type Plan, type PlannedTag } from "./plan.js";
import { emptyRemovalSchedule, formatRemovalSchedule, type RemovalSchedule } from "../published/removal-schedule.js";

/** What one run decided for each public name, after conversions ran. */
export interface TagEdit {
  tag: PlannedTag;
  /** The image directory the name points at after this run (undefined: removed, or left as it was). */
  imageDir?: string;
  /** Whether the repository changes for this name. */
  changed: boolean;
  /** Why a wanted change was not made (its conversion failed): the old link stays. */
  skipped?: string;
}

/**
 * Pure: fixes the target of every name now that conversions told the config digests.
 * A name whose conversion failed keeps what it had; `keep` changes nothing.
 */
export function assembleTagEdits(
  plan: Plan,
  dirOfManifest: ReadonlyMap<string, string>,
  failedManifests: ReadonlyMap<string, string>,
  platforms: {
    /** Conversions left out because the image lacks the platform: their names wait, with this note. */
    skipped?: ReadonlyMap<string, string>;
    /** The platform (`os/arch[/variant]`) of each fetched image, by conversion key. */
    platformOf?: ReadonlyMap<string, string>;
  } = {},
): TagEdit[] {
  return plan.tags.map((tag) => {
    if (tag.action === "keep") return { tag, imageDir: tag.imageDir, changed: false };
    if (tag.action === "remove") return { tag, changed: true };
    const key = conversionKey(tag.manifestDigest ?? "", tag.platform);
    const got = platforms.platformOf?.get(key);
    // A per-architecture name never points at another architecture's image (a single-platform
    // manifest of another platform serves the usual name only).
    const wrongArch = tag.arch !== undefined && got !== undefined && platformRank(parsePlatform(tag.arch), parsePlatform(got)) === undefined;
    const failure =
      (tag.manifestDigest ? (failedManifests.get(key) ?? platforms.skipped?.get(key)) : undefined) ??
      (wrongArch ? `[E_PLATFORM] the image is for ${got}, not ${tag.arch}` : undefined);
    const imageDir = tag.imageDir ?? (tag.manifestDigest ? dirOfManifest.get(key) : undefined);
    if (failure !== undefined || imageDir === undefined) {
      return { tag, imageDir: tag.previousImageDir, changed: false, skipped: failure ?? "image directory unknown" };
    }
    return { tag, imageDir, changed: imageDir !== tag.previousImageDir || tag.action === "add" };
  });
}

/**
 * Image directories the plan deletes now, minus any that a name points at after this run: a name
 * whose update failed keeps its old image, and a new manifest may turn out (once its config is
 * known) to be an image the plan thought untagged. `inUse` adds the directories conversions found.
 */
export function dueRemovals(plan: Plan, edits: readonly TagEdit[], inUse: Iterable<string> = []): string[] {
  const stillPointedAt = new Set([...inUse, ...edits.filter((e) => e.imageDir !== undefined).map((e) => e.imageDir!)]);
  return plan.imageRemovals.filter((r) => r.due && !stillPointedAt.has(r.imageDir)).map((r) => r.imageDir);
}

/** The public paths and image directories an edit touches: for choosing a lease. */
export function touchedPaths(edits: readonly TagEdit[], removals: readonly string[], schedulePath: string | undefined): string[] {
  const paths = edits.filter((e) => e.changed).map((e) => e.tag.publicPath);
  return [...paths, ...removals, ...(schedulePath ? [schedulePath] : [])];
}

/**
 * Applies tag edits, image removals, the removal schedule and (when given) the names' owners and
 * the published-state index to a catalog editor opened on the published root (local stratum 0 or a gateway lease).
 * Empty parent directories of removed names go too, so a namespace whose last tag left does not
 * linger. Returns whether anything changed.
 */
export async function applyTagEdits(
  editor: CatalogEditor,
  edits: readonly TagEdit[],
  removals: readonly string[],
  schedule: {
    layout: RepositoryLayout;
    next: RemovalSchedule;
    previous: RemovalSchedule;
    store: ContentStore;
    mtime: number;
    index?: PublishedIndex;
    owners?: NameOwners;
  },
): Promise<boolean> {
  let changed = false;
  for (const edit of edits) {
    if (!edit.changed) continue;
    const path = edit.tag.publicPath;
    if (edit.tag.action === "remove") {
      if (await editor.remove(path)) {
        changed = true;
        await removeEmptyParents(editor, path, schedule.layout.imagesRoot);
      }
      continue;
    }
    await editor.putSymlink(path, linkTarget(path, edit.imageDir!));
    changed = true;
  }
  // The per-architecture tree's own links (the variant link through $(CVMFS_ARCH) and the
  // kernel-name aliases) come with its first name and are rewritten only when one is added.
  if (edits.some((e) => e.changed && e.tag.action !== "remove" && e.tag.publicPath.startsWith(`${schedule.layout.archRoot}/`))) {
    for (const link of archLinks()) {
      const existing = await editor.lookup(link.path);
      if (existing?.kind === "symlink" && existing.symlink === link.target) continue;
      await editor.putSymlink(link.path, link.target);
    }
  }
  if (edits.some((e) => e.changed && e.tag.action === "remove" && e.tag.publicPath.startsWith(`${schedule.layout.archRoot}/`))) {
    changed = (await removeBareArchRoot(editor, schedule.layout.archRoot)) || changed;
  }
  for (const dir of removals) {
    if (await editor.remove(dir)) {
      changed = true;
      await removeEmptyParents(editor, dir, schedule.layout.imagesRoot);
    }
  }
  if (JSON.stringify(schedule.next) !== JSON.stringify(schedule.previous)) {
    const empty = JSON.stringify(schedule.next) === JSON.stringify(emptyRemovalSchedule());
    if (empty) {
      changed = (await editor.remove(schedule.layout.removalSchedulePath)) || changed;
    } else {
      await putToolFile(editor, schedule, schedule.layout.removalSchedulePath, formatRemovalSchedule(schedule.next));
      changed = true;
    }
  }
  if (schedule.owners) {
    await putToolFile(editor, schedule, schedule.layout.ownersPath, formatNameOwners(schedule.owners));
    changed = true;
  }
  if (schedule.index) {
    await putToolFile(editor, schedule, schedule.layout.indexPath, formatPublishedIndex(schedule.index));
    changed = true;
  }
  return changed;
}

/** Stores one of the tool's own JSON files (root:root 0644, the run's time) and puts it at `path`. */
async function putToolFile(editor: CatalogEditor, at: { store: ContentStore; mtime: number }, path: string, bytes: Buffer): Promise<void> {
  const content = await at.store.putFile(Readable.from([bytes]));
  await editor.putFile(path, content, { mode: 0o644, uid: 0, gid: 0, mtime: at.mtime, mtimeNs: 0 });
}

/**
 * Once the last per-architecture name has gone (its empty arch directories went with it), the
 * tree's fixed links and the root itself go too. Returns whether anything was removed.
 */
async function removeBareArchRoot(editor: CatalogEditor, archRoot: string): Promise<boolean> {
  const root = await editor.lookup(archRoot);
  if (root?.kind !== "dir" || root.isMountpoint) return false;
  const entries = await editor.list(archRoot);
  if (!isBareArchRoot(entries.map((e) => e.name))) return false;
  for (const e of entries) await editor.remove(`${archRoot}/${e.name}`);
  return editor.remove(archRoot);
}

/** Removes `path`'s ancestors while they are empty, stopping at the root and at `keep`. */
async function removeEmptyParents(editor: CatalogEditor, path: string, keep: string): Promise<void> {
  let dir = path.slice(0, path.lastIndexOf("/"));
  while (dir !== "" && dir !== keep) {
    const entry = await editor.lookup(dir);
    if (entry?.kind !== "dir" || entry.isMountpoint) return;
    if ((await editor.list(dir)).length > 0) return;
    await editor.remove(dir);
    dir = dir.slice(0, dir.lastIndexOf("/"));
  }
}
