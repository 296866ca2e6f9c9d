import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, planAutoCatalogs, type CatalogPartition } from "../../../src/cvmfs/catalog/partition.js";
import type { DirNode, TreeNode } from "../../../src/tree/types.js";
import { dir, fakeHash, file, symlink } from "./catalog-support.js";

/** A directory of `n` entries (symlinks: one row each, like any file) plus `more`. */
const flat = (n: number, more: Record<string, TreeNode> = {}): DirNode => {
  const d = dir(more);
  for (let i = 0; i < n; i++) d.children.set(`f${i}`, symlink("t"));
  return d;
};

/** `count` subdirectories made by `make`, plus `files` entries, in one directory. */
const fanOut = (count: number, make: (i: number) => DirNode, files = 0): DirNode => {
  const d = flat(files);
  for (let i = 0; i < count; i++) d.children.set(`d${i}`, make(i));
  return d;
};

interface Shape {
  catalogs: number;
  /** Rows of the top catalog. */
  top: number;
  /** Rows of the largest catalog. */
  largest: number;
  /** Rows of the smallest nested catalog (Infinity when there is none). */
  smallestNested: number;
  /** Rows of the catalogs a client loads to reach the worst-placed entry. */
  worstPath: number;
  /** Every row of every catalog: entries + 1 per catalog root (marker) + 1 per mountpoint. */
  rows: number;
}

/**
 * The catalogs a plan makes, counted row by row from the tree (independently of the planner's
 * own bookkeeping): a catalog holds its root row, a `.cvmfscatalog` marker, and every entry
 * below its root down to (and including) the mountpoints of the catalogs split off.
 */
function shapeOf(root: DirNode, plan: CatalogPartition): Shape {
  const sizes: number[] = [];
  let worstPath = 0;
  const visit = (top: DirNode, above: number): void => {
    let rows = top.children.get(".cvmfscatalog")?.type === "file" ? 1 : 2;
    const nested: DirNode[] = [];
    const walk = (d: DirNode): void => {
      for (const child of d.children.values()) {
        rows++;
        if (child.type !== "dir") continue;
        if (plan.splits.has(child)) nested.push(child);
        else walk(child);
      }
    };
    walk(top);
    sizes.push(rows);
    worstPath = Math.max(worstPath, above + rows);
    for (const n of nested) visit(n, above + rows);
  };
  visit(root, 0);
  return {
    catalogs: sizes.length,
    top: sizes[0] as number,
    largest: Math.max(...sizes),
    smallestNested: Math.min(...sizes.slice(1)),
    worstPath,
    rows: sizes.reduce((a, b) => a + b, 0),
  };
}

/** Entries of a tree, its root included. */
function countEntries(d: DirNode): number {
  let n = 1;
  for (const c of d.children.values()) n += c.type === "dir" ? countEntries(c) : 1;
  return n;
}

const { maxEntries, minEntries, pathEntries } = DEFAULT_LIMITS;

describe("planAutoCatalogs", () => {
  it("keeps a tree that fits one path budget in one catalog", () => {
    const plan = planAutoCatalogs(fanOut(12, () => flat(1_500)));
    expect(plan.splits.size).toBe(0);
    expect(plan.oversized).toEqual([]);
  });

  it("reports one flat directory of 300,000 files, which no split can help, and keeps it off the top", () => {
    const data = flat(300_000);
    const root = dir({ etc: flat(50), ".singularity.d": flat(10), data });
    const plan = planAutoCatalogs(root);
    expect(plan.oversized).toEqual([{ dir: data, path: "/data", entries: 300_000 }]);
    expect([...plan.splits]).toEqual([data]);
    const shape = shapeOf(root, plan);
    expect(shape.top).toBeLessThanOrEqual(100);
    expect(shape.largest).toBe(300_002);
  });

  it("gives 500 directories of 1,000 files a catalog each, under a top of their mountpoints", () => {
    const root = fanOut(500, () => flat(1_000));
    const shape = shapeOf(root, planAutoCatalogs(root));
    expect(shape).toMatchObject({ catalogs: 501, top: 502, largest: 1_002, smallestNested: 1_002, worstPath: 1_504 });
  });

  it.each([
    ["a deep tree (4 subdirectories and 40 files per directory, 7 levels)", () => {
      const make = (h: number): DirNode => (h === 0 ? flat(40) : fanOut(4, () => make(h - 1), 40));
      return make(6);
    }],
    ["a deep, narrow tree (2 subdirectories and 50 files per directory, 13 levels)", () => {
      const make = (h: number): DirNode => (h === 0 ? flat(50) : fanOut(2, () => make(h - 1), 50));
      return make(12);
    }],
    ["many medium directories (200 of 2,500 files)", () => fanOut(200, () => flat(2_500))],
    ["medium directories of mixed weights (300 of 1,000 to 6,000 files)", () => fanOut(300, (i) => flat(1_000 + ((i * 7919) % 5_000)))],
    ["a tree whose bulk hides under usr/", () => usrImage()],
  ])("shapes %s for lazy clients", (_name, make) => {
    const root = make();
    const plan = planAutoCatalogs(root);
    const shape = shapeOf(root, plan);
    expect(countEntries(root)).toBeGreaterThan(200_000);
    expect(plan.oversized).toEqual([]);
    expect(shape.rows).toBe(countEntries(root) + 2 * shape.catalogs - 1);
    // No catalog alone takes the path budget, none is tiny, and the top holds a skeleton only.
    expect(shape.largest).toBeLessThanOrEqual(pathEntries + 1);
    expect(shape.smallestNested).toBeGreaterThanOrEqual(minEntries + 1);
    expect(shape.top).toBeLessThanOrEqual(2_000);
    // What a client loads to reach any one entry: about 3 MiB at most (about 150 bytes a row).
    expect(shape.worstPath).toBeLessThanOrEqual(pathEntries + shape.top);
    expect(shape.catalogs).toBeLessThan(countEntries(root) / minEntries);
  });

  it("keeps the bulk of an image under usr/ out of the top catalog", () => {
    const root = usrImage();
    const shape = shapeOf(root, planAutoCatalogs(root));
    // The top: the image's own directories (etc, var, .singularity.d) and usr's skeleton.
    expect(shape.top).toBeLessThan(1_000);
    expect(shape.top).toBeGreaterThan(500);
  });

  it("leaves directories lighter than the minimum in their parent, even past the path budget", () => {
    const root = fanOut(100, () => flat(500));
    const plan = planAutoCatalogs(root);
    expect(plan.splits.size).toBe(0);
    expect(shapeOf(root, plan).top).toBe(100 * 501 + 2);
  });

  it("splits light directories off when the hard limit requires it, heaviest first and no more than needed", () => {
    const root = fanOut(400, (i) => flat(i < 200 ? 600 : 400));
    const plan = planAutoCatalogs(root);
    const shape = shapeOf(root, plan);
    expect(shape.largest).toBeLessThanOrEqual(maxEntries);
    expect(plan.oversized).toEqual([]);
    for (const d of plan.splits) expect(d.children.size).toBe(600);
    // 200 × 601 + 200 × 401 + 1 = 200,401 rows: 1 split of 601 rows brings it to 199,801 + marker.
    expect(plan.splits.size).toBe(1);
  });

  it("honours smaller limits, leaving room for each marker row", () => {
    const big = flat(30);
    const mid = flat(20);
    const small = flat(5);
    // root 1 + big 31 + mid 21 + small 6 = 59 rows; 49 fit with a marker: the hard limit alone
    // (all lighter than the minimum) takes the heaviest directory away.
    const plan = planAutoCatalogs(dir({ big, mid, small }), { maxEntries: 50, minEntries: 100 });
    expect([...plan.splits]).toEqual([big]);
    // Past a path budget of 40, the top gives away every directory of at least 10 rows.
    const tight = planAutoCatalogs(dir({ big, mid, small }), { minEntries: 10, pathEntries: 40 });
    expect(new Set(tight.splits)).toEqual(new Set([big, mid]));
  });

  it("reports a directory whose own entries exceed the limit", () => {
    const big = flat(60);
    const plan = planAutoCatalogs(dir({ big }), { maxEntries: 50 });
    expect(plan.oversized).toEqual([{ dir: big, path: "/big", entries: 60 }]);
  });

  it("makes every directory holding a .cvmfscatalog file a catalog of its own", () => {
    const marked = dir({ ".cvmfscatalog": file({ size: 0, hash: fakeHash("empty") }) });
    const notAFile = dir({ ".cvmfscatalog": dir() });
    const plan = planAutoCatalogs(dir({ marked, notAFile }));
    expect([...plan.splits]).toEqual([marked]);
  });
});

/**
 * An image as a distribution lays it out: small /etc and /var, the runtime's .singularity.d,
 * and nearly everything under /usr — Python packages, shared libraries, headers, docs.
 */
function usrImage(): DirNode {
  const pkg = (files: number): DirNode => dir({ src: flat(files / 2), tests: flat(files / 4), data: dir({ x: flat(files / 4) }) });
  return dir({
    bin: symlink("usr/bin"),
    etc: flat(400),
    var: flat(100),
    ".singularity.d": flat(12),
    usr: dir({
      bin: flat(1_500),
      lib: dir({
        python3: dir({ "site-packages": fanOut(120, (i) => pkg(800 + ((i * 331) % 2_400)), 20) }),
        "x86_64-linux-gnu": flat(3_000),
      }),
      share: dir({ doc: fanOut(600, () => flat(4)), locale: fanOut(50, () => flat(100)), icons: fanOut(30, () => flat(1_800)) }),
      include: fanOut(50, () => pkg(1_200)),
    }),
  });
}
