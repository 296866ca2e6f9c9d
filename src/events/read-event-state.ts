import path from "node:path";
import type { RepositoryReader } from "../cvmfs/repository/repository-reader.js";
import { IMAGE_METADATA_PATH } from "../published/image-metadata.js";
import type { RepositoryLayout } from "../published/layout.js";
import { publishedTreeSource } from "../published/published-source.js";
import { resolveLinkTarget, type PublishedSnapshot, type TreeEntry } from "../published/published-state.js";

/** What a run for an event has read of the repository: the images root's own files and what the event's names lead to. */
export interface EventSnapshot {
  /** The listing of the images root (its files' hashes tell a publish whether another run rewrote them). */
  imagesRoot: readonly TreeEntry[];
  /** Bytes of the schedule and owners files, and of the metadata file of each image in `imageDirs`, by path. */
  files: Readonly<Record<string, Buffer>>;
  /** Each event name that is a symlink → its link text as written. */
  links: ReadonlyMap<string, string>;
  /** Image directories read: those the event's names point at, and those of the configs it may move them to. */
  imageDirs: readonly string[];
}

/**
 * Pure: the published snapshot, for `assemblePublishedState`, of what a run for an event read:
 * the image directories it looked at (not the 256 fan-out directories: one event must not cost a
 * walk) and a public tree holding only the event's names. The state it gives has no index
 * (`index: "missing"`): a run from it leaves the published-state index as it is, and the next
 * full sync, which lists every image directory, adds what the event published.
 */
export function assembleEventSnapshot(layout: RepositoryLayout, seen: EventSnapshot): PublishedSnapshot {
  const listings: Record<string, TreeEntry[]> = { [layout.imagesRoot]: [...seen.imagesRoot] };
  const add = (dir: string, entry: TreeEntry): void => {
    const list = (listings[dir] ??= []);
    if (!list.some((e) => e.name === entry.name)) list.push(entry);
  };
  for (const image of seen.imageDirs) add(path.posix.dirname(image), { name: path.posix.basename(image), type: "dir" });
  for (const [name, target] of seen.links) {
    for (let dir = path.posix.dirname(name), child = name; child !== "/"; child = dir, dir = path.posix.dirname(dir)) {
      add(dir, child === name ? { name: path.posix.basename(name), type: "symlink", target } : { name: path.posix.basename(child), type: "dir" });
    }
  }
  return { listings, files: seen.files };
}

/**
 * Reads what a run for an event needs to plan `names`: the images root's listing, the schedule and
 * owners files, each name's link (one lookup), and the image each link points at when it exists
 * (its metadata file, in that image's own small catalog). Never the index, never a listing of the
 * public tree or of the fan-out directories.
 */
export async function readEventSnapshot(reader: RepositoryReader, layout: RepositoryLayout, names: readonly string[]): Promise<EventSnapshot> {
  const source = publishedTreeSource(reader);
  const imagesRoot = await source.listing(layout.imagesRoot);
  const present = new Set(imagesRoot.map((e) => `${layout.imagesRoot}/${e.name}`));
  const files: Record<string, Buffer> = {};
  await Promise.all(
    [layout.removalSchedulePath, layout.ownersPath]
      .filter((file) => present.has(file))
      .map(async (file) => {
        files[file] = await source.readFile(file);
      }),
  );
  const links = new Map<string, string>();
  const targets: string[] = [];
  for (const name of names) {
    const entry = await reader.lookup(name);
    if (entry?.kind !== "symlink") continue;
    links.set(name, entry.symlink);
    const target = resolveLinkTarget(layout, name, entry.symlink);
    if (target !== undefined) targets.push(target);
  }
  return withImageDirs(reader, { imagesRoot, files, links, imageDirs: [] }, targets);
}

/**
 * `seen` plus the image directories among `dirs` that exist, with their metadata files (one
 * unreadable is left out: the assembled state reports the image as lacking metadata).
 */
export async function withImageDirs(reader: RepositoryReader, seen: EventSnapshot, dirs: readonly string[]): Promise<EventSnapshot> {
  const source = publishedTreeSource(reader);
  const files = { ...seen.files };
  const imageDirs = [...seen.imageDirs];
  for (const dir of new Set(dirs)) {
    if (imageDirs.includes(dir) || (await reader.lookup(dir))?.kind !== "dir") continue;
    imageDirs.push(dir);
    const metadata = `${dir}/${IMAGE_METADATA_PATH}`;
    const bytes = await source.readFile(metadata).catch(() => undefined);
    if (bytes !== undefined) files[metadata] = bytes;
  }
  return { ...seen, files, imageDirs };
}
