import type { ChunkRef } from "../../content/content-store.js";
import type { DirNode, FileNode, TreeNode } from "../../tree/types.js";
import { addCounterSet, countRow, counterTotals, zeroCounters, type CatalogCounters } from "./counters.js";
import { CatalogDb, type NestedRow } from "./db.js";
import { baseName, parentPath } from "./md5-path.js";
import { CATALOG_MARKER } from "./partition.js";
import { int64Reader, keyAt, PathKeys, type PathPrefix } from "./path-keys.js";
import { Col, COLUMN_COUNT, Flag, packHardlinks, writeRowColumns, type DirRole } from "./row.js";

/**
 * Builds the SQLite file of one catalog of a tree being written (cvmfs-formats.md §3): the rows
 * of its region (its root directory and everything below down to nested mountpoints), its
 * chunks, `nested_catalogs`, properties and counters. A million-row image goes through here row
 * by row, so rows are kept column-wise in arrays reused from one catalog to the next, keys are
 * words rather than BigInt pairs until they are bound, and rows are inserted in primary-key
 * order (appending to the key index instead of splitting its pages: faster, and full pages make a
 * smaller file for every client to download).
 */

/** A nested catalog already built, as its parent mounts it. */
export interface MountedChild {
  hash: string;
  /** Uncompressed size of its SQLite file. */
  size: number;
  counters: CatalogCounters;
}

/** What a built catalog hands on: its file and its counters. */
export interface BuiltCatalog {
  bytes: Buffer;
  counters: CatalogCounters;
  /** Rows of the `catalog` table. */
  entries: number;
}

/** Settings shared by every catalog of one tree. */
export interface BuildSettings {
  /** Hash string of the empty object: the content of a `.cvmfscatalog` marker. */
  emptyHash: string;
  /** Unix seconds: `last_modified` and the markers' mtime. */
  mtime: number;
  revision: number;
  /**
   * Write the hard links of one directory as a CVMFS hardlink group (one inode on the client)
   * instead of independent rows. Only for catalogs a gateway never merges: its receiver splits
   * groups and refuses to remove a row whose linkcount is above 1.
   */
  hardlinkGroups?: boolean;
}

const ROLE: readonly DirRole[] = ["plain", "mountpoint", "nestedRoot"];

/** Builds the catalogs of one tree, one after another (its arrays are reused: one build at a time). */
export class CatalogBuilder {
  private readonly pathKeys = new PathKeys();
  /** Key words: slot 0 holds the parent of the catalog root, rows are slots 1…n. */
  private keys = new Int32Array(4 * 1024);
  private parentSlot = new Int32Array(1024);
  private roles = new Uint8Array(1024);
  private subdirs = new Int32Array(1024);
  /** Hardlink group of a row (0: none) and the number of its names, when groups are written. */
  private linkGroup = new Int32Array(1024);
  private linkCount = new Int32Array(1024);
  private groups = 0;
  private nodes: TreeNode[] = [];
  private names: string[] = [];
  private n = 0;

  constructor(private readonly settings: BuildSettings) {}

  /**
   * Builds the catalog rooted at `dir`, mounted at catalog path `path`. `children` holds the
   * finished catalogs of the directories in its region that are nested catalog roots; every
   * other directory's contents are rows of this catalog.
   * @throws CatalogError for a row that cannot be written (a file without content, xattrs too big).
   */
  build(dir: DirNode, path: string, children: ReadonlyMap<DirNode, MountedChild>): BuiltCatalog {
    this.n = 0;
    this.groups = 0;
    this.pathKeys.keyOfPath(parentPath(path), this.keys, 0);
    const root = this.add(0, dir, baseName(path), 2);
    this.pathKeys.keyOfPath(path, this.keys, 4 * root);
    const prefix = this.pathKeys.prefix(path);
    if (!dir.children.has(CATALOG_MARKER)) {
      const marker = this.add(root, this.markerOf(dir), CATALOG_MARKER, 0);
      this.pathKeys.keyOf(prefix, CATALOG_MARKER, this.keys, 4 * marker);
    }
    const nested: NestedRow[] = [];
    const counters = zeroCounters();
    this.collect(dir, root, prefix, path, children, nested, counters);
    nested.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    counters.self.nested = nested.length;

    const order = this.keyOrder();
    const db = CatalogDb.create({ deferParentIndex: true });
    try {
      db.fillTransaction(() => {
        const chunked = this.insertRows(db, order, counters);
        for (const [row, chunks] of chunked) db.insertChunks(keyAt(this.keys, row), chunks);
        for (const row of nested) db.putNested(row);
        db.setProperties({ revision: this.settings.revision, last_modified: this.settings.mtime, root_prefix: path });
        db.writeCounters(counters);
      });
      return { bytes: db.serialize(), counters, entries: this.n };
    } finally {
      db.close();
      // Drop the tree references until the next catalog overwrites them.
      this.nodes.length = 0;
      this.names.length = 0;
    }
  }

  /** Adds the rows below `dir` (row `dirRow`, children's paths starting with `prefix`). */
  private collect(
    dir: DirNode,
    dirRow: number,
    prefix: PathPrefix,
    path: string,
    children: ReadonlyMap<DirNode, MountedChild>,
    nested: NestedRow[],
    counters: CatalogCounters,
  ): void {
    // Names of one inode in this directory: a hardlink group (CVMFS keeps groups per directory).
    let inodes: Map<number, number[]> | undefined;
    // forEach rather than for…of: no [name, node] pair allocated per entry of a large tree.
    dir.children.forEach((child, name) => {
      const row = this.add(dirRow, child, name, 0);
      this.pathKeys.keyOf(prefix, name, this.keys, 4 * row);
      if (child.type === "file" && this.settings.hardlinkGroups && child.inode >= 0) {
        inodes ??= new Map();
        const rows = inodes.get(child.inode);
        if (rows) rows.push(row);
        else inodes.set(child.inode, [row]);
      }
      if (child.type !== "dir") return;
      const mounted = children.get(child);
      if (mounted) {
        this.roles[row] = 1;
        nested.push({ path: `${path}/${name}`, hash: mounted.hash, size: mounted.size });
        addCounterSet(counters.subtree, counterTotals(mounted.counters));
      } else {
        this.collect(child, row, this.pathKeys.childPrefix(prefix, name), `${path}/${name}`, children, nested, counters);
      }
    });
    inodes?.forEach((rows) => {
      if (rows.length < 2) return;
      const group = ++this.groups;
      for (const row of rows) {
        this.linkGroup[row] = group;
        this.linkCount[row] = rows.length;
      }
    });
  }

  /** Appends a row (its key is written by the caller) and returns its slot. */
  private add(parentSlot: number, node: TreeNode, name: string, role: number): number {
    const slot = ++this.n;
    if (slot >= this.parentSlot.length) this.grow();
    this.parentSlot[slot] = parentSlot;
    this.roles[slot] = role;
    this.subdirs[slot] = node.type === "dir" ? subdirCount(node) : 0;
    this.linkGroup[slot] = 0;
    // Slot s is at index s - 1: pushed, so the arrays stay packed.
    this.nodes.push(node);
    this.names.push(name);
    return slot;
  }

  private grow(): void {
    const cap = this.parentSlot.length * 2;
    const grown = <T extends Int32Array | Uint8Array>(a: T, next: T): T => (next.set(a), next);
    this.keys = grown(this.keys, new Int32Array(4 * cap));
    this.parentSlot = grown(this.parentSlot, new Int32Array(cap));
    this.subdirs = grown(this.subdirs, new Int32Array(cap));
    this.linkGroup = grown(this.linkGroup, new Int32Array(cap));
    this.linkCount = grown(this.linkCount, new Int32Array(cap));
    this.roles = grown(this.roles, new Uint8Array(cap));
  }

  /** Row slots 1…n sorted by (md5path_1, md5path_2) as signed 64-bit integers. */
  private keyOrder(): number[] {
    const k = this.keys;
    return Array.from({ length: this.n }, (_, i) => i + 1).sort((a, b) => {
      const x = 4 * a;
      const y = 4 * b;
      // High words signed, low words unsigned: int64 order without BigInts.
      return (
        (k[x + 1] as number) - (k[y + 1] as number) ||
        ((k[x] as number) >>> 0) - ((k[y] as number) >>> 0) ||
        (k[x + 3] as number) - (k[y + 3] as number) ||
        ((k[x + 2] as number) >>> 0) - ((k[y + 2] as number) >>> 0)
      );
    });
  }

  /** Inserts the rows in `order`, counting them; returns the chunked files' chunk lists. */
  private insertRows(db: CatalogDb, order: readonly number[], counters: CatalogCounters): Array<[number, readonly ChunkRef[]]> {
    const read = int64Reader(this.keys);
    // Column values by slot, made once: siblings share their parent's key.
    const high: Array<bigint | undefined> = new Array(this.n + 1);
    const low: Array<bigint | undefined> = new Array(this.n + 1);
    const keyOf = (slot: number, params: unknown[], at: number): void => {
      let h = high[slot];
      if (h === undefined) {
        h = high[slot] = read(4 * slot);
        low[slot] = read(4 * slot + 2);
      }
      params[at] = h;
      params[at + 1] = low[slot];
    };
    const self = counters.self;
    const chunked: Array<[number, readonly ChunkRef[]]> = [];
    // One digest buffer per row of a statement: SQLite copies a blob when it is bound.
    const digests: Buffer[] = [];
    db.insertFilled(order.length, (params, at, i) => {
      const slot = order[i] as number;
      const node = this.nodes[slot - 1] as TreeNode;
      keyOf(slot, params, at + Col.md5path1);
      keyOf(this.parentSlot[slot] as number, params, at + Col.parent1);
      const digest = (digests[at / COLUMN_COUNT] ??= Buffer.alloc(20));
      writeRowColumns(node, this.names[slot - 1] as string, this.subdirs[slot] as number, ROLE[this.roles[slot] as number] as DirRole, params, at, digest);
      const group = this.linkGroup[slot] as number;
      if (group > 0) params[at + Col.hardlinks] = packHardlinks(this.linkCount[slot] as number, group);
      const flags = params[at + Col.flags] as number;
      countRow(self, flags, params[at + Col.size] as number, params[at + Col.xattr] !== null);
      if (flags & Flag.Chunked) {
        const chunks = (node as FileNode).content.chunks as ChunkRef[];
        self.chunks += chunks.length;
        chunked.push([slot, chunks]);
      }
    });
    return chunked;
  }

  private markerOf(dir: DirNode): FileNode {
    const { emptyHash, mtime } = this.settings;
    return { type: "file", mode: 0o644, uid: dir.uid, gid: dir.gid, mtime, mtimeNs: 0, content: { size: 0, hash: emptyHash }, inode: -1 };
  }
}

/** Subdirectories of a directory: its linkcount is 2 more. */
export function subdirCount(dir: DirNode): number {
  let n = 0;
  dir.children.forEach((c) => {
    if (c.type === "dir") n++;
  });
  return n;
}
