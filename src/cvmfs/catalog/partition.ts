import type { DirNode } from "../../tree/types.js";

/** The file whose presence makes a directory a nested catalog root. */
export const CATALOG_MARKER = ".cvmfscatalog";

/**
 * Automatic nested catalogs shaped for lazy clients: which directories of an image tree get a
 * catalog of their own.
 *
 * A client loads every catalog on the way to a file before it can open the file, so what counts
 * is not only the largest catalog but the sum along each path. Weights are rows: a directory
 * weighs its own row plus everything its catalog would hold below it, a directory already split
 * off counting as its one mountpoint row (as CVMFS's `CatalogBalancer` weighs its virtual nodes).
 * Walking post-order (children settled before their parent), a directory gives away its heaviest
 * subdirectories, each then a catalog of its own, while:
 * - it is over `maxEntries`, the hard limit: any subdirectory goes, however light;
 * - it is over `pathEntries` on its own: no catalog may take a whole path's budget;
 * - its rows plus the heaviest chain of catalogs nested below it are over `pathEntries`: a
 *   subdirectory goes if that shortens the chain.
 * Short of the hard limit, only subdirectories of at least `minEntries` go: lighter ones stay
 * with their parent, as cvmfs_server's `kDefaultMinWeight` keeps thousands of tiny catalogs away
 * (a catalog file costs some 50 KiB before its first row). The image's top catalog is on every
 * path into the image (the container runtime reads `.singularity.d/` and `/etc` on every start),
 * so once the image does not fit one path budget, the top gives away every subdirectory of at
 * least `minEntries`, whatever the chain.
 *
 * Each split-off directory also receives a `.cvmfscatalog` marker row, so the limits leave room
 * for it. A directory whose own entries alone exceed `maxEntries` cannot be split: it stays
 * oversized (CVMFS only warns about large catalogs too), and `oversized` reports it.
 *
 * A directory that already holds a regular file `.cvmfscatalog` is a nested catalog root
 * whatever its size, as in a `cvmfs_server` publish.
 */
export interface CatalogPartition {
  /** Directories (below the tree root) that become nested catalogs. */
  splits: Set<DirNode>;
  /** Directories that stay over `maxEntries` because nothing below them can be split off. */
  oversized: OversizedDirectory[];
}

/** A directory whose own entries exceed the per-catalog limit: no nested catalog can help. */
export interface OversizedDirectory {
  dir: DirNode;
  /** Path below the tree root (`""` for the root itself, else `/a/b`). */
  path: string;
  /** Its own entries (children). */
  entries: number;
}

/** The row budgets of {@link planAutoCatalogs}; see there. */
export interface PartitionLimits {
  /** Rows a catalog may hold (cvmfs_server's root catalog warning level). */
  maxEntries: number;
  /** Rows a directory needs to become a catalog of its own, unless `maxEntries` forces it. */
  minEntries: number;
  /** Rows on the chain of catalogs from the image's top to any of its entries. */
  pathEntries: number;
}

/**
 * Defaults: cvmfs_server's 200,000-row root catalog limit and its 1,000-row minimum weight. A
 * row takes about 150 bytes of SQLite file, so 20,000 rows on a path come to about 3 MiB,
 * leaving room under 5 MiB for the repository's own catalogs above the image.
 */
export const DEFAULT_LIMITS: PartitionLimits = {
  maxEntries: 200_000,
  minEntries: 1_000,
  pathEntries: 20_000,
};

/** What settling a directory leaves for its parent to decide on. */
interface Settled {
  /** Rows the directory adds to the catalog holding it. */
  weight: number;
  /** Rows of the heaviest chain of catalogs nested inside it (0 when none). */
  chain: number;
}

/**
 * Plans the autocatalogs of a tree whose root is itself a catalog root (an image directory).
 * Pure: the tree is only read. `limits` fields left out take {@link DEFAULT_LIMITS}; budgets
 * above `maxEntries - 1` are lowered to it.
 */
export function planAutoCatalogs(root: DirNode, limits: Partial<PartitionLimits> = {}): CatalogPartition {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  // One row of every budget is kept for the marker row a split-off directory receives.
  const cap = Math.max(1, lim.maxEntries - 1);
  const pathBudget = Math.min(lim.pathEntries, cap);
  const minWeight = Math.max(2, lim.minEntries);
  const splits = new Set<DirNode>();
  const oversized: OversizedDirectory[] = [];
  const settled = new Map<DirNode, Settled>();

  const settle = (dir: DirNode, path: string, isTop: boolean): Settled => {
    let weight = 1;
    let chain = 0;
    const kept: DirNode[] = [];
    // forEach rather than for…of: no [name, node] pair allocated per entry of a large tree.
    dir.children.forEach((child, name) => {
      if (child.type !== "dir") {
        weight += 1;
        return;
      }
      const s = settle(child, `${path}/${name}`, false);
      if (child.children.get(CATALOG_MARKER)?.type === "file") {
        // Its marker is among its own rows already.
        splits.add(child);
        weight += 1;
        chain = Math.max(chain, s.weight + s.chain);
      } else {
        weight += s.weight;
        chain = Math.max(chain, s.chain);
        kept.push(child);
      }
    });
    // No catalog may take the whole path budget alone; and the top keeps only light directories
    // once the image does not fit one path budget.
    const aim = isTop && weight + chain > pathBudget ? minWeight : pathBudget;
    kept.sort((a, b) => (settled.get(b)?.weight ?? 0) - (settled.get(a)?.weight ?? 0));
    for (const sub of kept) {
      const s = settled.get(sub) as Settled;
      const overCap = weight > cap;
      const overAim = weight > aim;
      const overPath = weight + chain > pathBudget;
      if (!overCap && !overAim && !overPath) break;
      if (s.weight < 2) break;
      if (!overCap) {
        if (s.weight < minWeight) break;
        // Over the path budget only: give the subdirectory away if the chain gets shorter.
        const chainIfSplit = Math.max(chain, s.weight + 1 + s.chain);
        if (!overAim && weight - s.weight + 1 + chainIfSplit >= weight + chain) continue;
      }
      splits.add(sub);
      weight -= s.weight - 1;
      chain = Math.max(chain, s.weight + 1 + s.chain);
    }
    if (weight > cap) oversized.push({ dir, path, entries: dir.children.size });
    const result = { weight, chain };
    settled.set(dir, result);
    return result;
  };
  settle(root, "", true);
  return { splits, oversized };
}
