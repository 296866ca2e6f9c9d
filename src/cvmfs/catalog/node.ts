import { readFile } from "node:fs/promises";
import { CatalogError } from "../../errors.js";
import { addCounterSet, counterTotals, zeroCounterSet, type CounterSet } from "./counters.js";
import { CatalogDb, type NestedRow } from "./db.js";

/**
 * One catalog of a repository's hierarchy as the editor holds it: its database (in memory), where
 * it is mounted, what it was when loaded, and the children loaded so far. Children are loaded
 * only when an edit or a lookup reaches below their mountpoint.
 */

/** Gives the path of a decompressed catalog file for a hash string; the file is only read. */
export type CatalogLoader = (hash: string) => Promise<string>;

export class CatalogNode {
  /** `nested_catalogs` of this catalog, by mountpoint. */
  readonly nested: Map<string, NestedRow>;
  /** Children loaded so far, by mountpoint. */
  readonly children = new Map<string, CatalogNode>();
  /** Changes to this catalog's `subtree` counters made by edits below it, applied on write. */
  readonly subtreeDelta: CounterSet = zeroCounterSet();
  /** `self + subtree` as loaded: what the parent's `subtree` currently includes for it. */
  readonly loadedTotals: CounterSet;
  dirty = false;

  constructor(
    readonly mountpoint: string,
    readonly db: CatalogDb,
    readonly parent: CatalogNode | null,
    /** Hash string it was loaded from; null for a catalog created in this edit. */
    readonly loadedHash: string | null,
  ) {
    this.nested = new Map(db.nested().map((n) => [n.path, n]));
    this.loadedTotals = loadedHash === null ? zeroCounterSet() : counterTotals(db.counters());
  }

  /**
   * Loads a catalog through the loader, into memory, checking that its `root_prefix` is where
   * it is mounted (unless only its counters are wanted, e.g. to remove it).
   */
  static async load(
    loader: CatalogLoader,
    hash: string,
    mountpoint: string,
    parent: CatalogNode | null,
    checkPrefix = true,
  ): Promise<CatalogNode> {
    let bytes: Buffer;
    try {
      bytes = await readFile(await loader(hash));
    } catch (err) {
      throw new CatalogError(`load catalog ${hash} mounted at "${mountpoint || "/"}"`, { cause: err });
    }
    const node = new CatalogNode(mountpoint, CatalogDb.fromBytes(bytes), parent, hash);
    const prefix = node.db.properties().root_prefix ?? "";
    if (checkPrefix && prefix !== mountpoint) {
      throw new CatalogError(`catalog ${hash} has root_prefix "${prefix}" but is mounted at "${mountpoint || "/"}"`);
    }
    return node;
  }

  /** The loaded child mounted at `mountpoint` (which must be in `nested`), loading it on first use. */
  async child(loader: CatalogLoader, mountpoint: string): Promise<CatalogNode> {
    const have = this.children.get(mountpoint);
    if (have) return have;
    const row = this.nested.get(mountpoint);
    if (!row) throw new CatalogError(`no nested catalog at "${mountpoint}"`);
    const node = await CatalogNode.load(loader, row.hash, mountpoint, this);
    this.children.set(mountpoint, node);
    return node;
  }

  /** Adds (`sign` 1) or removes (-1) a child's totals to the pending subtree change. */
  adjustSubtree(totals: CounterSet, sign: 1 | -1): void {
    addCounterSet(this.subtreeDelta, totals, sign);
    this.dirty = true;
  }

  /** Every loaded node below and including this one, children before parents. */
  postOrder(out: CatalogNode[] = []): CatalogNode[] {
    for (const c of this.children.values()) c.postOrder(out);
    out.push(this);
    return out;
  }

  close(): void {
    for (const c of this.children.values()) c.close();
    this.db.close();
  }
}
