import { CatalogError } from "../../errors.js";
import type { DirNode, NodeMeta, TreeNode } from "../../tree/types.js";
import type { ChunkRef, ContentStore, FileContent } from "../../content/content-store.js";
import { counterTotals, recountSelf, addCounterSet, zeroCounters } from "./counters.js";
import { CatalogDb } from "./db.js";
import { CatalogNode, type CatalogLoader } from "./node.js";
import { catalogRow, decodeRow, Flag, packHardlinks, type CatalogEntry, type CatalogRow } from "./row.js";
import type { NestedCatalogRef } from "./writer.js";
import { baseName, catalogPath, md5PathKey, parentPath, ZERO_KEY } from "./md5-path.js";
import { walkCatalogTree, type WalkEntry } from "./walk.js";
import { serializeXattrs } from "./xattr-blob.js";

export type { CatalogLoader } from "./node.js";
export type { WalkEntry } from "./walk.js";

/**
 * Edits a repository's catalog hierarchy along paths (cvmfs-formats.md §3 "Nested catalogs").
 * Only the catalogs an edit reaches are loaded (through the loader, into memory); `finish`
 * writes the changed ones bottom-up, each parent's `nested_catalogs` row and `subtree` counters
 * following its children, and the root last with the new revision. Both the local publisher and
 * the gateway's commit (replaying a diff onto the current root) edit through this class.
 *
 * Paths are repository paths (`/a/b`; `/` or `""` is the root). An editor is single-use: after
 * `finish` (or on any error) its state is undefined and it must be closed.
 */
export interface CatalogEditorOptions {
  /** Unix seconds for directories created with default metadata and for `last_modified` (default now). */
  mtime?: number;
}

export interface FinishOptions {
  /** The root catalog's `revision` (the manifest's `S`). */
  revision: number;
  /** `last_modified` of every written catalog (default: the editor's mtime). */
  lastModified?: number;
  /** The root's `previous_revision` (default: the root hash the editor opened). */
  previousRevision?: string;
}

export interface FinishResult {
  rootHash: string;
  rootSize: number;
  /** Hash strings of every catalog written, children before parents, the root last. */
  written: string[];
}

const dirNode = (meta: NodeMeta): DirNode => ({ ...meta, type: "dir", children: new Map() });

export class CatalogEditor {
  private finished = false;

  private constructor(
    private readonly root: CatalogNode,
    private readonly loader: CatalogLoader,
    private readonly mtime: number,
  ) {}

  /**
   * Opens the hierarchy rooted at `rootHash`, or starts a new repository root (a root directory
   * owned by root:root, mode 0755) when it is null.
   * @throws CatalogError when the root catalog cannot be loaded or is not a root catalog.
   */
  static async open(rootHash: string | null, loader: CatalogLoader, opts: CatalogEditorOptions = {}): Promise<CatalogEditor> {
    const mtime = opts.mtime ?? Math.floor(Date.now() / 1000);
    if (rootHash !== null) return new CatalogEditor(await CatalogNode.load(loader, rootHash, "", null), loader, mtime);
    const db = CatalogDb.create();
    const meta: NodeMeta = { mode: 0o755, uid: 0, gid: 0, mtime, mtimeNs: 0 };
    db.insertRow(catalogRow(dirNode(meta), "", { md5path: md5PathKey(""), parent: ZERO_KEY }));
    db.setProperties({ revision: 0 });
    db.writeCounters(zeroCounters());
    const node = new CatalogNode("", db, null, null);
    node.dirty = true;
    return new CatalogEditor(node, loader, mtime);
  }

  private defaultMeta(): NodeMeta {
    return { mode: 0o755, uid: 0, gid: 0, mtime: this.mtime, mtimeNs: 0 };
  }

  /** The deepest catalog whose mountpoint is `path` or one of its ancestors. */
  private async catalogFor(path: string): Promise<CatalogNode> {
    if (this.finished) throw new CatalogError("catalog editor used after finish");
    let cat = this.root;
    if (path === "") return cat;
    let prefix = "";
    for (const part of path.slice(1).split("/")) {
      prefix = `${prefix}/${part}`;
      if (cat.nested.has(prefix)) cat = await cat.child(this.loader, prefix);
    }
    return cat;
  }

  /** The catalog holding the row of `path` as an entry of its parent (the mountpoint row, for a mountpoint). */
  private async rowOf(path: string): Promise<{ cat: CatalogNode; row: CatalogRow | undefined }> {
    const cat = await this.catalogFor(path === "" ? "" : parentPath(path));
    return { cat, row: cat.db.getRow(md5PathKey(path)) };
  }

  /**
   * The entry at `path`, if any. A mountpoint is seen as its parent's row (flag 3, `isMountpoint`),
   * so looking it up does not load the nested catalog.
   */
  async lookup(path: string): Promise<CatalogEntry | undefined> {
    const { row } = await this.rowOf(catalogPath(path));
    return row === undefined ? undefined : decodeRow(row);
  }

  /** The entries of directory `path`, sorted by name; empty when it is not a directory. */
  async list(path: string): Promise<CatalogEntry[]> {
    const p = catalogPath(path);
    const rows = (await this.catalogFor(p)).db.listRows(md5PathKey(p));
    return rows.map(decodeRow).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The chunk list of a chunked file at `path` (empty otherwise). */
  async chunks(path: string): Promise<ChunkRef[]> {
    const p = catalogPath(path);
    const { cat, row } = await this.rowOf(p);
    return row === undefined || (row.flags & Flag.Chunked) === 0 ? [] : cat.db.chunks(row.md5path, row.flags);
  }

  /** Rewrites the row of `path` in its catalog and, for a nested root, the mountpoint row in the parent. */
  private async updateRow(path: string, change: (row: CatalogRow) => CatalogRow): Promise<void> {
    const cat = await this.catalogFor(path);
    const row = cat.db.getRow(md5PathKey(path));
    if (!row) throw new CatalogError(`no entry at "${path || "/"}"`);
    const next = change(row);
    cat.db.updateRow(next);
    cat.dirty = true;
    if (next.flags & Flag.NestedRoot && cat.parent) {
      cat.parent.db.updateRow({ ...next, flags: (next.flags & ~Flag.NestedRoot) | Flag.NestedMountpoint });
      cat.parent.dirty = true;
    }
  }

  private async bumpLinkcount(dirPath: string, delta: 1 | -1): Promise<void> {
    await this.updateRow(dirPath, (row) => ({ ...row, hardlinks: row.hardlinks + delta }));
  }

  /** Inserts a row as a new child of its parent directory (which must exist). */
  private async insert(path: string, row: CatalogRow, chunks?: readonly ChunkRef[]): Promise<CatalogNode> {
    const cat = await this.catalogFor(parentPath(path));
    cat.db.insertRow(row);
    if (chunks && row.flags & Flag.Chunked) cat.db.insertChunks(row.md5path, chunks);
    cat.dirty = true;
    if (row.flags & Flag.Dir) await this.bumpLinkcount(parentPath(path), 1);
    return cat;
  }

  private keys(path: string): { md5path: ReturnType<typeof md5PathKey>; parent: ReturnType<typeof md5PathKey> } {
    return { md5path: md5PathKey(path), parent: md5PathKey(parentPath(path)) };
  }

  /**
   * `mkdir -p`: creates `path` and any missing parents (parents with root:root 0755 and the
   * editor's mtime). A non-directory in the way is replaced. When `meta` is given, the final
   * directory gets it, also when it already existed (its contents are kept).
   */
  async ensureDir(path: string, meta?: NodeMeta): Promise<void> {
    const p = catalogPath(path);
    if (p !== "") {
      let cur = "";
      for (const part of p.slice(1).split("/")) {
        cur = `${cur}/${part}`;
        const { row } = await this.rowOf(cur);
        if (row && row.flags & Flag.Dir) continue;
        if (row) await this.remove(cur);
        const m = cur === p && meta ? meta : this.defaultMeta();
        await this.insert(cur, catalogRow(dirNode(m), part, this.keys(cur)));
        if (cur === p) return;
      }
    }
    if (meta) {
      const xattr = serializeXattrs(meta.xattrs);
      await this.updateRow(p, (row) => ({
        ...row,
        mode: (row.mode & ~0o7777) | (meta.mode & 0o7777),
        uid: meta.uid,
        gid: meta.gid,
        mtime: meta.mtime,
        mtimens: meta.mtimeNs ?? null,
        xattr,
      }));
    }
  }

  /**
   * `mkdir -p` whose last directory, when it must be created, is a nested catalog of its own
   * (an empty catalog made in this edit, written by `finish`), as a `.cvmfscatalog` marker makes
   * one in a `cvmfs_server` publish. A directory that exists already is left as it is, nested or
   * not, so existing repositories keep their shape. Used for directories that gather many nested
   * catalogs (the images root and its fan-out), so that their parents stay small.
   */
  async ensureNestedDir(path: string): Promise<void> {
    const p = catalogPath(path);
    if (p === "") return;
    const { row } = await this.rowOf(p);
    if (row && row.flags & Flag.Dir) return;
    await this.ensureDir(parentPath(p));
    if (row) await this.remove(p);
    const meta = this.defaultMeta();
    const parent = await this.insert(p, catalogRow(dirNode(meta), baseName(p), this.keys(p), { role: "mountpoint" }));
    const db = CatalogDb.create();
    db.insertRow(catalogRow(dirNode(meta), baseName(p), this.keys(p), { role: "nestedRoot" }));
    db.setProperties({ revision: 0, root_prefix: p });
    db.writeCounters(zeroCounters());
    const child = new CatalogNode(p, db, parent, null);
    child.dirty = true;
    // Routed to by mountpoint until `finish` writes it and puts its real hash and size here.
    parent.nested.set(p, { path: p, hash: "", size: 0 });
    parent.children.set(p, child);
  }

  /** Puts a non-directory node at `path`, replacing whatever was there; parents are created. */
  private async putLeaf(path: string, node: TreeNode): Promise<void> {
    const p = catalogPath(path);
    if (p === "") throw new CatalogError("the repository root is a directory");
    await this.ensureDir(parentPath(p));
    await this.remove(p);
    await this.insert(p, catalogRow(node, baseName(p), this.keys(p)), node.type === "file" ? node.content.chunks : undefined);
  }

  /** Puts a symlink (default metadata root:root 0777, the editor's mtime). */
  async putSymlink(path: string, target: string, meta?: NodeMeta): Promise<void> {
    await this.putLeaf(path, { ...(meta ?? { ...this.defaultMeta(), mode: 0o777 }), type: "symlink", target });
  }

  /** Puts a regular file whose objects are already in the store. */
  async putFile(path: string, content: FileContent, meta: NodeMeta): Promise<void> {
    await this.putLeaf(path, { ...meta, type: "file", content, inode: 0 });
  }

  /**
   * Puts a copy of an entry read from another catalog (a diff being replayed): a directory's
   * metadata goes onto the existing directory (contents kept) or a new one; anything else
   * replaces what is at `path`, as one row with linkcount 1.
   */
  async putEntry(path: string, entry: CatalogEntry, chunks?: readonly ChunkRef[]): Promise<void> {
    const p = catalogPath(path);
    if (entry.kind === "dir") {
      await this.ensureDir(p, { mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime, mtimeNs: entry.mtimeNs ?? 0, xattrs: entry.xattrs });
      return;
    }
    if (p === "") throw new CatalogError("the repository root is a directory");
    await this.ensureDir(parentPath(p));
    await this.remove(p);
    const row: CatalogRow = { ...entry.row, ...this.keys(p), name: baseName(p), hardlinks: packHardlinks(1) };
    await this.insert(p, row, chunks);
  }

  /**
   * Mounts a finished nested catalog at `path`: the mountpoint row (flag 3, the child root's
   * metadata) and the `nested_catalogs` row, replacing whatever was at `path`.
   */
  async mountNested(path: string, ref: NestedCatalogRef): Promise<void> {
    const p = catalogPath(path);
    if (p === "") throw new CatalogError("cannot mount a nested catalog at the repository root");
    await this.ensureDir(parentPath(p));
    await this.remove(p);
    const row = catalogRow(dirNode(ref.rootMeta), baseName(p), this.keys(p), { role: "mountpoint" });
    const cat = await this.insert(p, { ...row, hardlinks: packHardlinks(ref.rootLinkcount) });
    const nested = { path: p, hash: ref.hash, size: ref.size };
    cat.db.putNested(nested);
    cat.nested.set(p, nested);
    cat.adjustSubtree(counterTotals(ref.counters), 1);
  }

  /** The `nested_catalogs` row of a mountpoint (without loading the nested catalog), or undefined. */
  async nestedAt(path: string): Promise<{ hash: string; size: number } | undefined> {
    const p = catalogPath(path);
    if (p === "") return undefined;
    const n = (await this.catalogFor(parentPath(p))).nested.get(p);
    return n ? { hash: n.hash, size: n.size } : undefined;
  }

  /** The reference of the nested catalog mounted at `path` (loads it), or undefined. */
  async nestedRef(path: string): Promise<NestedCatalogRef | undefined> {
    const p = catalogPath(path);
    if (p === "") return undefined;
    const cat = await this.catalogFor(parentPath(p));
    const n = cat.nested.get(p);
    if (!n) return undefined;
    const child = await cat.child(this.loader, p);
    const root = decodeRow(child.db.getRow(md5PathKey(p)) as CatalogRow);
    const rootMeta: NodeMeta = { mode: root.mode & 0o7777, uid: root.uid, gid: root.gid, mtime: root.mtime, mtimeNs: root.mtimeNs ?? 0 };
    if (root.xattrs) rootMeta.xattrs = root.xattrs;
    return { hash: n.hash, size: n.size, counters: child.db.counters(), rootMeta, rootLinkcount: root.linkcount };
  }

  /**
   * Removes the entry at `path` and, for a directory, everything below it, nested catalogs
   * included (their `nested_catalogs` rows go, their counters leave the ancestors' subtree).
   * @returns whether there was anything to remove.
   */
  async remove(path: string): Promise<boolean> {
    const p = catalogPath(path);
    if (p === "") throw new CatalogError("cannot remove the repository root");
    const { cat, row } = await this.rowOf(p);
    if (!row) return false;
    await this.removeRow(cat, p, row);
    if (row.flags & Flag.Dir) await this.bumpLinkcount(parentPath(p), -1);
    return true;
  }

  private async removeRow(cat: CatalogNode, path: string, row: CatalogRow): Promise<void> {
    if (row.flags & Flag.NestedMountpoint) {
      const loaded = cat.children.get(path);
      let totals = loaded?.loadedTotals;
      if (loaded) {
        loaded.close();
        cat.children.delete(path);
      } else {
        const n = cat.nested.get(path);
        if (n) {
          const peek = await CatalogNode.load(this.loader, n.hash, path, cat, false);
          totals = peek.loadedTotals;
          peek.close();
        }
      }
      if (totals) cat.adjustSubtree(totals, -1);
      cat.db.deleteNested(path);
      cat.nested.delete(path);
    } else if (row.flags & Flag.Dir) {
      for (const child of cat.db.listRows(md5PathKey(path))) await this.removeRow(cat, `${path}/${child.name}`, child);
    }
    cat.db.deleteRow(row.md5path);
    cat.dirty = true;
  }

  /**
   * Every entry at and below `path` in pre-order (names sorted), crossing into nested catalogs:
   * a mountpoint is met once, as its parent's row with `nested` set, then its contents.
   */
  walk(path: string): AsyncGenerator<WalkEntry> {
    return walkCatalogTree(this, path);
  }

  /**
   * Writes every changed catalog, children before parents, and always the root (with the new
   * revision). Self counters are recounted from the rows; subtree counters move by exactly what
   * changed below.
   */
  async finish(store: ContentStore, opts: FinishOptions): Promise<FinishResult> {
    if (this.finished) throw new CatalogError("catalog editor finished twice");
    const lastModified = opts.lastModified ?? this.mtime;
    const written: string[] = [];
    let rootHash = "";
    let rootSize = 0;
    for (const node of this.root.postOrder()) {
      if (node !== this.root && !node.dirty) continue;
      const before = node.loadedHash === null ? zeroCounters() : node.db.counters();
      const subtree = { ...before.subtree };
      addCounterSet(subtree, node.subtreeDelta);
      const counters = { self: recountSelf(node.db.db), subtree };
      node.db.writeCounters(counters);
      const isRoot = node.parent === null;
      const previous = isRoot ? (opts.previousRevision ?? node.loadedHash ?? undefined) : (node.loadedHash ?? undefined);
      node.db.setProperties({
        revision: isRoot ? opts.revision : Number(node.db.properties().revision ?? 0) + 1,
        last_modified: lastModified,
        previous_revision: previous,
      });
      const bytes = node.db.serialize();
      const hash = await store.putBuffer(bytes, "C");
      written.push(hash);
      if (node.parent) {
        const nested = { path: node.mountpoint, hash, size: bytes.length };
        node.parent.db.putNested(nested);
        node.parent.nested.set(node.mountpoint, nested);
        node.parent.adjustSubtree(counterTotals(counters), 1);
        node.parent.adjustSubtree(node.loadedTotals, -1);
      } else {
        rootHash = hash;
        rootSize = bytes.length;
      }
    }
    this.finished = true;
    return { rootHash, rootSize, written };
  }

  /** Releases every loaded catalog. */
  close(): void {
    this.root.close();
  }
}

/**
 * The root catalog of a new, empty repository (as `cvmfs_server mkfs` makes it: one root
 * directory, root:root 0755), stored in `store`.
 */
export async function createEmptyRootCatalog(
  store: ContentStore,
  opts: { revision?: number; mtime?: number } = {},
): Promise<{ rootHash: string; rootSize: number }> {
  const editor = await CatalogEditor.open(null, () => Promise.reject(new CatalogError("an empty repository has no catalogs to load")), opts);
  try {
    const { rootHash, rootSize } = await editor.finish(store, { revision: opts.revision ?? 0 });
    return { rootHash, rootSize };
  } finally {
    editor.close();
  }
}
