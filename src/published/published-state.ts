import path from "node:path";
import pLimit from "p-limit";
import type { ExtraFormat } from "../runtimes/formats.js";
import { parsePodmanImagesFile, parsePodmanLayersFile, podmanImagesPath, podmanLayersPath, type PodmanStoreLists } from "../runtimes/podman-images-file.js";
import { IMAGE_METADATA_PATH, parseImageMetadata, type ImageMetadata } from "./image-metadata.js";
import { PODMAN_STORE, type RepositoryLayout } from "./layout.js";
import { parseNameOwners } from "./name-owners.js";
import { parsePublishedIndex, type PublishedIndex } from "./published-index.js";
import { emptyRemovalSchedule, parseRemovalSchedule, type RemovalSchedule } from "./removal-schedule.js";

/** One directory entry as a repository reader lists it. */
export interface TreeEntry {
  name: string;
  type: "dir" | "file" | "symlink" | "other";
  /** The link target, for a symlink. */
  target?: string;
  /** The content hash string, for a regular file (tells whether a file changed since it was read). */
  hash?: string;
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
 * (the published-state index, image metadata, removal schedule). A missing key means "not there";
 * an image's metadata file may be missing when the index holds its metadata.
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
  /** Later index digests known to hold this same image (from the published-state index). */
  indexes?: string[];
  /** The formats beyond the sandbox the index says it has (absent: none, or not known). */
  formats?: ExtraFormat[];
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
  /**
   * The published-state index as found: `current` names exactly the image directories present,
   * `stale` names others (or misses some), `missing` is absent or unreadable. A run that finds it
   * anything but current writes it anew.
   */
  index: IndexStatus;
  /** Public name → the owners recorded for it (see name-owners.ts); names without an entry have none. */
  owners: Map<string, string[]>;
  /**
   * Content hashes of the tool's files in the images root (schedule, owners) as read, by path: a
   * publish compares them with what it finds under its lease to tell whether another run wrote
   * them meanwhile. A missing key: the file was not there.
   */
  fileHashes: Record<string, string>;
  /** Layer directories present under the layers root (`layers` format), by layer digest. */
  layers: Set<string>;
  /**
   * The Podman stores' lists (`podman` format) as found, by store root (the default store and one
   * per architecture); a store whose lists are missing or broken is not in it.
   */
  podman: Map<string, PodmanStoreLists>;
  /** Things that are off but do not stop a plan: dangling links, unreadable metadata. */
  problems: string[];
}

export type IndexStatus = "current" | "stale" | "missing";

/** An empty repository's state. */
export function emptyPublishedState(): PublishedState {
  return { images: new Map(), tags: new Map(), dangling: new Map(), schedule: emptyRemovalSchedule(), index: "missing", owners: new Map(), fileHashes: {}, layers: new Set(), podman: new Map(), problems: [] };
}

/**
 * Pure: interpret a snapshot under a layout. Public names are the symlinks anywhere below `/`
 * outside dot-directories (except the per-architecture tree, `/.multiarch`) whose target (relative, or absolute as OSG writes it:
 * `/cvmfs/<repo>/.images/…`) lands on an image directory; other links are left alone (not ours).
 * A link into the images root that names no existing image directory is a dangling name: in
 * `dangling` and `problems`, not in `tags`; a plan re-creates it if still wanted, else removes it.
 * An image's metadata comes from its own file when the snapshot holds it, else from the index.
 */
export function assemblePublishedState(layout: RepositoryLayout, snapshot: PublishedSnapshot): PublishedState {
  const state = emptyPublishedState();
  const index = parseOptional(snapshot, state.problems)(layout.indexPath, parsePublishedIndex, "reading each image's metadata instead");
  const dirs = imageDirsOf(layout, snapshot);
  for (const dir of dirs) {
    const hex = layout.configHexOf(dir);
    if (hex === undefined) continue;
    const image: PublishedImage = { hex, dir };
    const where = `${dir}/${IMAGE_METADATA_PATH}`;
    const bytes = snapshot.files[where];
    const indexed = index?.images[hex];
    if (bytes !== undefined) {
      try {
        image.metadata = parseImageMetadata(bytes, where);
      } catch (err) {
        state.problems.push((err as Error).message);
      }
    } else if (indexed !== undefined && indexed.dir === dir) image.metadata = indexed.metadata;
    else state.problems.push(`${dir}: no image metadata (${IMAGE_METADATA_PATH})`);
    if (indexed?.indexes !== undefined && indexed.dir === dir) image.indexes = indexed.indexes;
    if (indexed?.formats !== undefined && indexed.dir === dir) image.formats = indexed.formats;
    state.images.set(hex, image);
  }
  state.index = indexStatus(index, state.images);

  const walk = (dir: string): void => {
    for (const entry of snapshot.listings[dir] ?? []) {
      if (holdsNoNames(layout, dir, entry.name)) continue;
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

  for (const entry of snapshot.listings[layout.imagesRoot] ?? []) {
    const file = `${layout.imagesRoot}/${entry.name}`;
    if (entry.hash !== undefined && (file === layout.removalSchedulePath || file === layout.ownersPath)) state.fileHashes[file] = entry.hash;
  }
  for (const fan of snapshot.listings[layout.layersRoot] ?? []) {
    if (fan.type !== "dir" || !/^[a-f0-9]{2}$/.test(fan.name)) continue;
    for (const layer of snapshot.listings[`${layout.layersRoot}/${fan.name}`] ?? []) {
      if (layer.type === "dir" && layer.name.startsWith(fan.name)) state.layers.add(`sha256:${layer.name}`);
    }
  }
  const read = parseOptional(snapshot, state.problems);
  for (const store of podmanStoresOf(layout, snapshot.listings)) {
    const files = [podmanImagesPath(store), podmanLayersPath(store)] as const;
    for (const file of files) {
      const entry = (snapshot.listings[path.posix.dirname(file)] ?? []).find((e) => e.name === path.posix.basename(file));
      if (entry?.hash !== undefined) state.fileHashes[file] = entry.hash;
    }
    const images = read(files[0], parsePodmanImagesFile, "the Podman store is written anew from this run's names");
    const layers = read(files[1], parsePodmanLayersFile, "the Podman store is written anew from this run's names");
    if (images !== undefined && layers !== undefined) state.podman.set(store, { images, layers });
  }
  state.owners = read(layout.ownersPath, parseNameOwners, "names count as unowned") ?? state.owners;
  state.schedule = read(layout.removalSchedulePath, parseRemovalSchedule, "starting a new schedule") ?? state.schedule;
  return state;
}

/**
 * Parses one of the tool's own files of the snapshot when it is there. A broken one is a problem
 * of the state, not a failure: `instead` says what the run does without it.
 */
function parseOptional(snapshot: PublishedSnapshot, problems: string[]) {
  return <T>(file: string, parse: (bytes: Buffer | string, where: string) => T, instead: string): T | undefined => {
    const bytes = snapshot.files[file];
    if (bytes === undefined) return undefined;
    try {
      return parse(bytes, file);
    } catch (err) {
      problems.push(`${(err as Error).message} (${instead})`);
      return undefined;
    }
  };
}

/**
 * Dot-directories at the root hold no public names, except the per-architecture tree; nor do the
 * Podman stores, at the root and in each architecture's directory (their layers' `diff` links
 * point into the images root too).
 */
function holdsNoNames(layout: RepositoryLayout, dir: string, name: string): boolean {
  if (dir === "/") return (name.startsWith(".") && `/${name}` !== layout.archRoot) || `/${name}` === layout.podmanRoot;
  return name === PODMAN_STORE && path.posix.dirname(dir) === layout.archRoot;
}

/** The Podman stores the listings show: the default one and those of the architectures. */
function podmanStoresOf(layout: RepositoryLayout, listings: Readonly<Record<string, readonly TreeEntry[]>>): string[] {
  const stores: string[] = [];
  const isDir = (dir: string, name: string) => (listings[dir] ?? []).some((e) => e.type === "dir" && e.name === name);
  if (isDir("/", layout.podmanRoot.slice(1))) stores.push(layout.podmanRoot);
  for (const arch of listings[layout.archRoot] ?? []) {
    const archDir = `${layout.archRoot}/${arch.name}`;
    if (arch.type === "dir" && isDir(archDir, PODMAN_STORE)) stores.push(`${archDir}/${PODMAN_STORE}`);
  }
  return stores;
}

/**
 * Whether the index names exactly the image directories present that have metadata, each at its
 * own path. An image whose metadata cannot be read anywhere cannot be indexed: it does not make
 * the index stale (else every run would rewrite it).
 */
function indexStatus(index: PublishedIndex | undefined, images: ReadonlyMap<string, PublishedImage>): IndexStatus {
  if (index === undefined) return "missing";
  const indexed = Object.entries(index.images);
  const indexable = [...images.values()].filter((image) => image.metadata !== undefined).length;
  if (indexed.length !== indexable) return "stale";
  return indexed.every(([hex, entry]) => images.get(hex)?.dir === entry.dir) ? "current" : "stale";
}

/** Where a link points inside the repository, when it points into the images root; else undefined. */
export function resolveLinkTarget(layout: RepositoryLayout, linkPath: string, target: string): string | undefined {
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
 * root, read the published-state index, the metadata file of every image the index does not name
 * (all of them when there is no index) and the removal schedule (`concurrency` reads at once,
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
        .filter((e) => e.type === "dir" && !holdsNoNames(layout, dir, e.name))
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
  // The per-format parts, only when the repository has them (the root listing says so).
  const atRoot = (dir: string): boolean => (listings["/"] ?? []).some((e) => e.type === "dir" && `/${e.name}` === dir);
  const formatReads: Array<Promise<void>> = [];
  if (atRoot(layout.layersRoot)) {
    formatReads.push(
      (async () => {
        const fans = (listings[layout.layersRoot] = await limit(() => source.listing(layout.layersRoot)));
        await Promise.all(
          fans
            .filter((f) => f.type === "dir" && /^[a-f0-9]{2}$/.test(f.name))
            .map(async (f) => {
              listings[`${layout.layersRoot}/${f.name}`] = await limit(() => source.listing(`${layout.layersRoot}/${f.name}`));
            }),
        );
      })(),
    );
  }
  for (const store of podmanStoresOf(layout, listings)) {
    for (const file of [podmanImagesPath(store), podmanLayersPath(store)]) {
      formatReads.push(
        (async () => {
          const dir = path.posix.dirname(file);
          listings[dir] = await limit(() => source.listing(dir));
          if (listings[dir]!.some((e) => `${dir}/${e.name}` === file)) await readOptional(file);
        })(),
      );
    }
  }
  await Promise.all(formatReads);
  listings[layout.imagesRoot] = imagesRootListing;
  const present = (file: string): boolean => imagesRootListing.some((e) => `${layout.imagesRoot}/${e.name}` === file);
  const fans = imagesRootListing.filter((e) => e.type === "dir" && /^[a-f0-9]{2}$/.test(e.name));
  const [index] = await Promise.all([
    present(layout.indexPath) ? readIndexFile(source, layout, limit) : undefined,
    ...fans.map(async (fan) => {
      const fanDir = `${layout.imagesRoot}/${fan.name}`;
      listings[fanDir] = await limit(() => source.listing(fanDir));
    }),
    present(layout.removalSchedulePath) ? readOptional(layout.removalSchedulePath) : undefined,
    present(layout.ownersPath) ? readOptional(layout.ownersPath) : undefined,
  ]);
  if (index !== undefined) files[layout.indexPath] = index;
  let indexed: PublishedIndex | undefined;
  try {
    indexed = index === undefined ? undefined : parsePublishedIndex(index, layout.indexPath);
  } catch {
    indexed = undefined; // the assembler reports it and every image's own file is read below
  }
  await Promise.all(
    imageDirsOf(layout, { listings, files }).map((dir) => {
      const hex = layout.configHexOf(dir);
      if (hex !== undefined && indexed?.images[hex]?.dir === dir) return undefined;
      return readOptional(`${dir}/${IMAGE_METADATA_PATH}`);
    }),
  );
  return assemblePublishedState(layout, { listings, files });
}

async function readIndexFile(source: PublishedTreeSource, layout: RepositoryLayout, limit: ReturnType<typeof pLimit>): Promise<Buffer | undefined> {
  try {
    return await limit(() => source.readFile(layout.indexPath));
  } catch {
    return undefined; // unreadable: as if missing, every image's own file is read instead
  }
}
