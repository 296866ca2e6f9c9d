import path from "node:path";
import pLimit from "p-limit";
import { IMAGE_METADATA_PATH, parseImageMetadata, type ImageMetadata } from "./image-metadata.js";
import type { RepositoryLayout } from "./layout.js";
import { emptyRemovalSchedule, parseRemovalSchedule, type RemovalSchedule } from "./removal-schedule.js";

/** One directory entry as a repository reader lists it. */
export interface TreeEntry {
  name: string;
  type: "dir" | "file" | "symlink" | "other";
  /** The link target, for a symlink. */
  target?: string;
}

/**
 * The narrow view of a repository that reading the published state needs; the repository reader
 * (HTTP or stratum 0 directory) implements it. `listing` of a directory that does not exist
 * resolves to `[]`; `readFile` of a missing file rejects.
 */
export interface PublishedTreeSource {
  listing(path: string): Promise<TreeEntry[]>;
  readFile(path: string): Promise<Buffer>;
}

/**
 * The raw material of a published state, as plain data: the listings of the directories that
 * matter (public tree, images root, its 2-hex fan-out) and the bytes of the files that matter
 * (image metadata, removal schedule). A missing key means "not there".
 */
export interface PublishedSnapshot {
  listings: Readonly<Record<string, readonly TreeEntry[]>>;
  files: Readonly<Record<string, Buffer | string>>;
}

/** One image directory of the repository. */
export interface PublishedImage {
  /** Config digest hex: the key. */
  hex: string;
  /** Its path, e.g. `/.images/ab/cdef…`. */
  dir: string;
  /** Undefined when the metadata file is missing or unreadable (see `PublishedState.problems`). */
  metadata?: ImageMetadata;
}

/** What the repository holds now, read from the repository itself. */
export interface PublishedState {
  /** By config digest hex. */
  images: Map<string, PublishedImage>;
  /** Public name (absolute path in the repository) → image directory it points at. */
  tags: Map<string, string>;
  /** Public names whose link points into the images root at no existing image: name → the path it resolves to. */
  dangling: Map<string, string>;
  schedule: RemovalSchedule;
  /** Things that are off but do not stop a plan: dangling links, unreadable metadata. */
  problems: string[];
}

/** An empty repository's state. */
export function emptyPublishedState(): PublishedState {
  return { images: new Map(), tags: new Map(), dangling: new Map(), schedule: emptyRemovalSchedule(), problems: [] };
}

/**
 * Pure: interpret a snapshot under a layout. Public names are the symlinks anywhere below `/`
 * outside dot-directories whose target (relative, or absolute as OSG writes it:
 * `/cvmfs/<repo>/.images/…`) lands on an image directory; other links are left alone (not ours).
 * A link into the images root that names no existing image directory is a dangling name: in
 * `dangling` and `problems`, not in `tags`; a plan re-creates it if still wanted, else removes it.
 */
export function assemblePublishedState(layout: RepositoryLayout, snapshot: PublishedSnapshot): PublishedState {
  const state = emptyPublishedState();
  for (const dir of imageDirsOf(layout, snapshot)) {
    const hex = layout.configHexOf(dir);
    if (hex === undefined) continue;
    const image: PublishedImage = { hex, dir };
    const where = `${dir}/${IMAGE_METADATA_PATH}`;
    const bytes = snapshot.files[where];
    if (bytes === undefined) state.problems.push(`${dir}: no image metadata (${IMAGE_METADATA_PATH})`);
    else {
      try {
        image.metadata = parseImageMetadata(bytes, where);
      } catch (err) {
        state.problems.push((err as Error).message);
      }
    }
    state.images.set(hex, image);
  }

  const walk = (dir: string): void => {
    for (const entry of snapshot.listings[dir] ?? []) {
      if (dir === "/" && entry.name.startsWith(".")) continue;
      const p = path.posix.join(dir, entry.name);
      if (entry.type === "dir") walk(p);
      else if (entry.type === "symlink" && entry.target !== undefined) {
        const target = resolveLinkTarget(layout, p, entry.target);
        if (target === undefined) continue;
        const hex = layout.configHexOf(target);
        if (hex !== undefined && state.images.has(hex)) state.tags.set(p, target);
        else {
          state.dangling.set(p, target);
          state.problems.push(`${p}: dangling link to ${entry.target}`);
        }
      }
    }
  };
  walk("/");

  const scheduleBytes = snapshot.files[layout.removalSchedulePath];
  if (scheduleBytes !== undefined) {
    try {
      state.schedule = parseRemovalSchedule(scheduleBytes, layout.removalSchedulePath);
    } catch (err) {
      state.problems.push(`${(err as Error).message} (starting a new schedule)`);
    }
  }
  return state;
}

/** Where a link points inside the repository, when it points into the images root; else undefined. */
function resolveLinkTarget(layout: RepositoryLayout, linkPath: string, target: string): string | undefined {
  const root = `${layout.imagesRoot}/`;
  let resolved: string;
  if (target.startsWith("/")) {
    // Absolute links name the mount point (/cvmfs/<repo>/.images/…): keep what follows it.
    const at = target.indexOf(root);
    if (at < 0) return undefined;
    resolved = path.posix.normalize(target.slice(at));
  } else resolved = path.posix.resolve(path.posix.dirname(linkPath), target);
  return resolved.startsWith(root) ? resolved.replace(/\/+$/, "") : undefined;
}

function imageDirsOf(layout: RepositoryLayout, snapshot: PublishedSnapshot): string[] {
  const dirs: string[] = [];
  for (const fan of snapshot.listings[layout.imagesRoot] ?? []) {
    if (fan.type !== "dir" || !/^[a-f0-9]{2}$/.test(fan.name)) continue;
    const fanDir = `${layout.imagesRoot}/${fan.name}`;
    for (const img of snapshot.listings[fanDir] ?? []) if (img.type === "dir") dirs.push(`${fanDir}/${img.name}`);
  }
  return dirs.sort();
}

/**
 * Read the published state through a repository reader: list the public tree and the images
 * root, read every image's metadata file and the removal schedule (`concurrency` reads at once,
 * default 8), then `assemblePublishedState`. Listing errors propagate; a metadata file that cannot
 * be read only becomes a problem of the state.
 */
export async function readPublishedState(
  source: PublishedTreeSource,
  layout: RepositoryLayout,
  options: { concurrency?: number } = {},
): Promise<PublishedState> {
  const limit = pLimit(options.concurrency ?? 8);
  const listings: Record<string, TreeEntry[]> = {};
  const files: Record<string, Buffer> = {};

  const walk = async (dir: string): Promise<void> => {
    const entries = await limit(() => source.listing(dir));
    listings[dir] = entries;
    await Promise.all(
      entries
        .filter((e) => e.type === "dir" && !(dir === "/" && e.name.startsWith(".")))
        .map((e) => walk(path.posix.join(dir, e.name))),
    );
  };
  const readOptional = async (file: string): Promise<void> => {
    try {
      files[file] = await limit(() => source.readFile(file));
    } catch {
      // Absent or unreadable: the assembler reports the image as lacking metadata.
    }
  };

  const [, imagesRootListing] = await Promise.all([walk("/"), limit(() => source.listing(layout.imagesRoot))]);
  const fans = (listings[layout.imagesRoot] = imagesRootListing).filter((e) => e.type === "dir" && /^[a-f0-9]{2}$/.test(e.name));
  await Promise.all(
    fans.map(async (fan) => {
      const fanDir = `${layout.imagesRoot}/${fan.name}`;
      const entries = await limit(() => source.listing(fanDir));
      listings[fanDir] = entries;
      await Promise.all(entries.filter((e) => e.type === "dir").map((e) => readOptional(`${fanDir}/${e.name}/${IMAGE_METADATA_PATH}`)));
    }),
  );
  if (listings[layout.imagesRoot]?.some((e) => `${layout.imagesRoot}/${e.name}` === layout.removalSchedulePath)) {
    await readOptional(layout.removalSchedulePath);
  }
  return assemblePublishedState(layout, { listings, files });
}
