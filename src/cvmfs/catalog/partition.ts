import type { DirNode } from "../../tree/types.js";

const MARKER = ".cvmfscatalog";

/**
 * Automatic nested catalogs (as CVMFS's `CatalogBalancer` does it): which directories of a tree
 * get a catalog of their own so that no catalog holds more than `maxEntries` rows.
 *
 * A directory's weight is the rows its catalog would hold for it: itself plus every entry below,
 * where a directory already split off counts as its single mountpoint row. Walking post-order
 * (children settled before their parent), a directory heavier than the budget gives away its
 * heaviest subdirectory until it fits. Each split-off directory also receives a `.cvmfscatalog`
 * marker row, so the budget leaves room for it: every weight is kept at `maxEntries - 1`.
 * A directory whose own files alone exceed the budget cannot be split; it stays oversized
 * (CVMFS only warns about large catalogs too), and `oversized` names it.
 *
 * A directory that already holds a regular file `.cvmfscatalog` is a nested catalog root
 * whatever its size, as in a `cvmfs_server` publish.
 */
export interface CatalogPartition {
  /** Directories (below the tree root) that become nested catalogs. */
  splits: Set<DirNode>;
  /** Directories that stay over the budget because nothing below them can be split off. */
  oversized: DirNode[];
}

/** Plans the autocatalogs of a tree whose root is itself a catalog root. Pure. */
export function planAutoCatalogs(root: DirNode, maxEntries: number): CatalogPartition {
  const budget = Math.max(1, maxEntries - 1);
  const splits = new Set<DirNode>();
  const oversized: DirNode[] = [];
  const weightOf = new Map<DirNode, number>();

  const settle = (dir: DirNode): number => {
    let weight = 1;
    const subdirs: DirNode[] = [];
    for (const child of dir.children.values()) {
      if (child.type === "dir") {
        const w = settle(child);
        if (child.children.get(MARKER)?.type === "file") {
          splits.add(child);
          weight += 1;
        } else {
          weight += w;
          subdirs.push(child);
        }
      } else {
        weight += 1;
      }
    }
    if (weight > budget) {
      // Heaviest first: the fewest catalogs that bring this directory under the budget.
      subdirs.sort((a, b) => (weightOf.get(b) ?? 0) - (weightOf.get(a) ?? 0));
      for (const sub of subdirs) {
        if (weight <= budget) break;
        const w = weightOf.get(sub) ?? 1;
        if (w < 2) break;
        splits.add(sub);
        weight -= w - 1;
      }
      if (weight > budget) oversized.push(dir);
    }
    weightOf.set(dir, weight);
    return weight;
  };
  settle(root);
  return { splits, oversized };
}
