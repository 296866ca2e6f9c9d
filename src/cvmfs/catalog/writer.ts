import { CatalogError } from "../../errors.js";
import { silentLogger, warn, type Logger } from "../../logger.js";
import type { DirNode, NodeMeta } from "../../tree/types.js";
import type { ContentStore } from "../../content/content-store.js";
import { CatalogBuilder, subdirCount, type MountedChild } from "./catalog-builder.js";
import type { CatalogCounters } from "./counters.js";
import { catalogPath } from "./md5-path.js";
import { DEFAULT_LIMITS, planAutoCatalogs } from "./partition.js";

/**
 * Writes an image tree as CVMFS file catalogs (cvmfs-formats.md §3 "Nested catalogs"): one
 * nested catalog rooted at the image directory, split further as {@link planAutoCatalogs}
 * shapes it for lazy clients. Children are finished, stored and hashed before their parent,
 * so each parent's `nested_catalogs` row names the final child.
 */

/** What a parent catalog needs to mount a finished nested catalog. */
export interface NestedCatalogRef {
  /** Hash string of the stored catalog object (no `C` suffix). */
  hash: string;
  /** Size of the uncompressed SQLite file in bytes. */
  size: number;
  /** The catalog's own counters; its parent adds `self + subtree` to its `subtree`. */
  counters: CatalogCounters;
  /** Metadata of the catalog's root directory: the parent's mountpoint row carries the same. */
  rootMeta: NodeMeta;
  /** Linkcount of that directory (2 + subdirectories), the same in both rows. */
  rootLinkcount: number;
}

/** One catalog as written, for callers that report on the shape (see `onCatalog`). */
export interface WrittenCatalog {
  /** Catalog path of its root directory (its `root_prefix`). */
  path: string;
  /** Rows of its `catalog` table. */
  entries: number;
  /** Size of the uncompressed SQLite file in bytes. */
  size: number;
  hash: string;
}

export interface WriteCatalogOptions {
  /** Rows per catalog, the hard limit (default 200,000). */
  maxEntries?: number;
  /** Rows a directory needs to be split off for the path budget (default 1,000). */
  minEntries?: number;
  /** Rows on the way from the image's top catalog to any entry (default 20,000). */
  pathEntries?: number;
  /** Unused: catalogs are built in memory, each bounded by `maxEntries`. Kept for callers that pass it. */
  tmpDir?: string;
  /** Unix seconds for `last_modified` and the `.cvmfscatalog` markers (default: now). Fixes the output bytes. */
  mtime?: number;
  /** `revision` property of the new catalogs (default 1: created, then published once). */
  revision?: number;
  /** Hard links of one directory as hardlink groups (see BuildSettings); default independent rows. */
  hardlinkGroups?: boolean;
  logger?: Logger;
  /** Called once per catalog when it is stored, children before their parent. */
  onCatalog?: (catalog: WrittenCatalog) => void;
}

/**
 * Serialized catalogs handed to the store and not yet stored: above this the next catalog
 * waits, so a store slower than the builder holds memory to a bound. The store queues work of
 * its own besides, so a little keeps its workers busy.
 */
const STORE_BACKLOG_BYTES = 16 * 1024 * 1024;

/** A catalog root and the catalogs mounted in it. */
interface CatalogSpec {
  dir: DirNode;
  path: string;
  /** Indices of the catalogs mounted in it, which come before it in post-order. */
  children: number[];
}

/**
 * Writes the catalogs of `root`, to be mounted at `mountpoint` (e.g. `/.images/ab/cdef…`), into
 * `store` (`putBuffer(bytes, "C")`), deepest first. Adds a `.cvmfscatalog` marker (an empty
 * file, whose object is stored too) to every catalog root that lacks one. The tree is not
 * modified. A directory too big for any catalog is written anyway and reported through the
 * logger (`catalog.oversized`). Returns the reference the parent catalog mounts.
 * @throws CatalogError for the repository root as mountpoint or an invalid row (xattrs too big).
 */
export async function writeImageCatalogs(
  root: DirNode,
  mountpoint: string,
  store: ContentStore,
  opts: WriteCatalogOptions = {},
): Promise<NestedCatalogRef> {
  const path = catalogPath(mountpoint);
  if (path === "") throw new CatalogError("an image catalog cannot be mounted at the repository root");
  const maxEntries = opts.maxEntries ?? DEFAULT_LIMITS.maxEntries;
  const plan = planAutoCatalogs(root, {
    maxEntries,
    minEntries: opts.minEntries ?? DEFAULT_LIMITS.minEntries,
    pathEntries: opts.pathEntries ?? DEFAULT_LIMITS.pathEntries,
  });
  for (const big of plan.oversized) {
    warn(
      opts.logger ?? silentLogger,
      "catalog.oversized",
      `${path}${big.path} holds ${big.entries} entries of its own, more than the ${maxEntries} a catalog should hold: ` +
        "nested catalogs cannot split one directory, so its catalog stays that large",
      { path: `${path}${big.path}`, entries: big.entries, maxEntries },
    );
  }
  const builder = new CatalogBuilder({
    emptyHash: await store.putBuffer(new Uint8Array(0), ""),
    mtime: opts.mtime ?? Math.floor(Date.now() / 1000),
    revision: opts.revision ?? 1,
    ...(opts.hardlinkGroups ? { hardlinkGroups: true } : {}),
  });

  const specs: CatalogSpec[] = [];
  listCatalogs(root, path, plan.splits, specs);
  const stored: Array<Promise<NestedCatalogRef>> = [];
  const backlog: Array<{ done: Promise<unknown>; bytes: number }> = [];
  let backlogBytes = 0;
  for (const spec of specs) {
    const mounted = new Map<DirNode, MountedChild>();
    for (const c of spec.children) mounted.set((specs[c] as CatalogSpec).dir, await (stored[c] as Promise<NestedCatalogRef>));
    // Building is synchronous; storing (compressing, hashing, writing) runs in the store's
    // workers while the next catalog is built.
    const built = builder.build(spec.dir, spec.path, mounted);
    const { counters, entries } = built;
    const size = built.bytes.length;
    const { children: _children, type: _type, ...rootMeta } = spec.dir;
    // Nothing below holds on to the bytes: once the store has copied them they are garbage, and
    // a large image's tree is costly for the garbage collector to walk for them.
    const done = store.putBuffer(built.bytes, "C").then((hash): NestedCatalogRef => {
      opts.onCatalog?.({ path: spec.path, entries, size, hash });
      return { hash, size, counters, rootMeta, rootLinkcount: 2 + subdirCount(spec.dir) };
    });
    done.catch(() => {}); // awaited below or by its parent; an early failure must not count as unhandled
    stored.push(done);
    backlog.push({ done, bytes: size });
    backlogBytes += size;
    while (backlogBytes > STORE_BACKLOG_BYTES) {
      const oldest = backlog.shift() as { done: Promise<unknown>; bytes: number };
      await oldest.done;
      backlogBytes -= oldest.bytes;
    }
  }
  await Promise.all(stored);
  return stored[stored.length - 1] as Promise<NestedCatalogRef>;
}

/** Lists the catalog roots of the tree in post-order (each after those mounted in it); returns the index of `dir`'s. */
function listCatalogs(dir: DirNode, path: string, splits: Set<DirNode>, out: CatalogSpec[]): number {
  const nestedRoots: Array<[DirNode, string]> = [];
  nestedRootsOf(dir, path, splits, nestedRoots);
  const children = nestedRoots.map(([child, childPath]) => listCatalogs(child, childPath, splits, out));
  return out.push({ dir, path, children }) - 1;
}

/** Split-off directories directly inside the catalog rooted at `dir` (not below another split). */
function nestedRootsOf(dir: DirNode, path: string, splits: Set<DirNode>, out: Array<[DirNode, string]>): void {
  dir.children.forEach((child, name) => {
    if (child.type !== "dir") return;
    const p = `${path}/${name}`;
    if (splits.has(child)) out.push([child, p]);
    else nestedRootsOf(child, p, splits, out);
  });
}
