import { CatalogError } from "../../errors.js";
import { silentLogger, warn, type Logger } from "../../logger.js";
import type { DirNode, FileNode, NodeMeta, TreeNode } from "../../tree/types.js";
import type { ChunkRef, ContentStore } from "../../content/content-store.js";
import { addCounterSet, countRow, counterTotals, zeroCounters, type CatalogCounters } from "./counters.js";
import { CatalogDb, type NestedRow } from "./db.js";
import { planAutoCatalogs } from "./partition.js";
import { catalogRow, type CatalogRow } from "./row.js";
import { baseName, catalogPath, md5PathKey, parentPath, type Md5Key } from "./md5-path.js";

/**
 * Writes an image tree as CVMFS file catalogs (cvmfs-formats.md §3 "Nested catalogs"): one
 * nested catalog rooted at the image directory, split further where a subtree would push a
 * catalog over `maxEntries` rows. Children are finished, stored and hashed before their parent,
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

export interface WriteCatalogOptions {
  /** Rows per catalog before a subtree is split off into its own catalog (default 200,000). */
  maxEntries?: number;
  /** Unused: catalogs are built in memory, each bounded by `maxEntries`. Kept for callers that pass it. */
  tmpDir?: string;
  /** Unix seconds for `last_modified` and the `.cvmfscatalog` markers (default: now). Fixes the output bytes. */
  mtime?: number;
  /** `revision` property of the new catalogs (default 1: created, then published once). */
  revision?: number;
  logger?: Logger;
}

export const DEFAULT_MAX_ENTRIES = 200_000;
/** The file whose presence makes a directory a nested catalog root. */
export const CATALOG_MARKER = ".cvmfscatalog";

/** Catalogs that may wait for the store while the next one is built. */
const STORE_WINDOW = 2;

interface WriteContext {
  store: ContentStore;
  splits: Set<DirNode>;
  emptyHash: string;
  mtime: number;
  revision: number;
}

/**
 * Writes the catalogs of `root`, to be mounted at `mountpoint` (e.g. `/.images/ab/cdef…`), into
 * `store` (`putBuffer(bytes, "C")`), deepest first. Adds a `.cvmfscatalog` marker (an empty
 * file, whose object is stored too) to every catalog root that lacks one. The tree is not
 * modified. Returns the reference the parent catalog mounts.
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
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const plan = planAutoCatalogs(root, maxEntries);
  for (const dir of plan.oversized) {
    warn(opts.logger ?? silentLogger, "catalog.oversized", `a directory has more than ${maxEntries} entries of its own`, {
      entries: dir.children.size,
      mountpoint: path,
    });
  }
  const ctx: WriteContext = {
    store,
    splits: plan.splits,
    emptyHash: await store.putBuffer(new Uint8Array(0), ""),
    mtime: opts.mtime ?? Math.floor(Date.now() / 1000),
    revision: opts.revision ?? 1,
  };
  return writeCatalog(root, path, ctx);
}

/** Split-off directories directly inside the catalog rooted at `dir` (not below another split). */
function nestedRootsOf(dir: DirNode, path: string, splits: Set<DirNode>, out: Array<[DirNode, string]>): void {
  for (const [name, child] of dir.children) {
    if (child.type !== "dir") continue;
    const p = `${path}/${name}`;
    if (splits.has(child)) out.push([child, p]);
    else nestedRootsOf(child, p, splits, out);
  }
}

function cmpKey(a: Md5Key, b: Md5Key): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

function subdirCount(dir: DirNode): number {
  let n = 0;
  for (const c of dir.children.values()) if (c.type === "dir") n++;
  return n;
}

function markerNode(dir: DirNode, ctx: WriteContext): FileNode {
  return {
    type: "file",
    mode: 0o644,
    uid: dir.uid,
    gid: dir.gid,
    mtime: ctx.mtime,
    mtimeNs: 0,
    content: { size: 0, hash: ctx.emptyHash },
    inode: -1,
  };
}

async function writeCatalog(dir: DirNode, path: string, ctx: WriteContext): Promise<NestedCatalogRef> {
  const nestedRoots: Array<[DirNode, string]> = [];
  nestedRootsOf(dir, path, ctx.splits, nestedRoots);
  const childRefs = new Map<DirNode, NestedCatalogRef>();
  // A child is built while the one before it is still being compressed and stored: a small
  // window keeps both cores busy without holding many serialized catalogs at once.
  const inFlight: Array<Promise<void>> = [];
  for (const [child, childPath] of nestedRoots) {
    const done = writeCatalog(child, childPath, ctx).then((ref) => void childRefs.set(child, ref));
    done.catch(() => {}); // awaited below; an early failure must not count as unhandled
    inFlight.push(done);
    if (inFlight.length > STORE_WINDOW) await inFlight.shift();
  }
  await Promise.all(inFlight);

  const counters = zeroCounters();
  const rows: CatalogRow[] = [];
  const chunked: Array<[Md5Key, readonly ChunkRef[]]> = [];
  const nestedRows: NestedRow[] = [];
  const add = (row: CatalogRow, node: TreeNode): void => {
    rows.push(row);
    countRow(counters.self, row.flags, row.size, row.xattr !== null);
    if (node.type === "file" && row.hash === null && node.content.chunks) {
      chunked.push([row.md5path, node.content.chunks]);
      counters.self.chunks += node.content.chunks.length;
    }
  };
  const key = md5PathKey(path);
  add(catalogRow(dir, baseName(path), { md5path: key, parent: md5PathKey(parentPath(path)) }, { subdirs: subdirCount(dir), role: "nestedRoot" }), dir);
  if (!dir.children.has(CATALOG_MARKER)) {
    const marker = markerNode(dir, ctx);
    add(catalogRow(marker, CATALOG_MARKER, { md5path: md5PathKey(`${path}/${CATALOG_MARKER}`), parent: key }), marker);
  }
  const fill = (d: DirNode, dPath: string, dKey: Md5Key): void => {
    for (const name of [...d.children.keys()].sort()) {
      const child = d.children.get(name) as TreeNode;
      const cPath = `${dPath}/${name}`;
      const cKey = md5PathKey(cPath);
      const keys = { md5path: cKey, parent: dKey };
      if (child.type !== "dir") {
        add(catalogRow(child, name, keys), child);
        continue;
      }
      const ref = childRefs.get(child);
      add(catalogRow(child, name, keys, { subdirs: subdirCount(child), role: ref ? "mountpoint" : "plain" }), child);
      if (ref) {
        nestedRows.push({ path: cPath, hash: ref.hash, size: ref.size });
        counters.self.nested++;
        addCounterSet(counters.subtree, counterTotals(ref.counters));
      } else {
        fill(child, cPath, cKey);
      }
    }
  };
  fill(dir, path, key);
  // Inserting in primary-key order appends to the key index instead of splitting its pages at
  // random: faster, and the file comes out smaller (full pages) for every client to download.
  rows.sort((a, b) => cmpKey(a.md5path, b.md5path));

  const db = CatalogDb.create({ deferParentIndex: true });
  try {
    db.transaction(() => {
      db.insertRows(rows);
      for (const [k, chunks] of chunked) db.insertChunks(k, chunks);
      for (const n of nestedRows) db.putNested(n);
      db.setProperties({ revision: ctx.revision, last_modified: ctx.mtime, root_prefix: path });
      db.writeCounters(counters);
    });
    const bytes = db.serialize();
    db.close();
    const hash = await ctx.store.putBuffer(bytes, "C");
    const { children: _children, type: _type, ...rootMeta } = dir;
    return { hash, size: bytes.length, counters, rootMeta, rootLinkcount: 2 + subdirCount(dir) };
  } finally {
    db.close();
  }
}
