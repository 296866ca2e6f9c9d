import { describe, expect, it } from "vitest";
import { planAutoCatalogs } from "../../../src/cvmfs/catalog/partition.js";
import type { DirNode } from "../../../src/tree/types.js";
import { dir, fakeHash, file, symlink } from "./catalog-support.js";

const files = (n: number, prefix = "f"): Record<string, ReturnType<typeof symlink>> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, symlink("t")]));

describe("planAutoCatalogs", () => {
  it("splits nothing when the tree fits", () => {
    const plan = planAutoCatalogs(dir({ a: dir(files(10)) }), 50);
    expect(plan.splits.size).toBe(0);
    expect(plan.oversized).toEqual([]);
  });

  it("gives away the heaviest subdirectories first, leaving room for each marker", () => {
    const big = dir(files(30));
    const mid = dir(files(20));
    const small = dir(files(5));
    // root 1 + big 31 + mid 21 + small 6 = 59 rows; budget 49 (one row for the marker).
    const plan = planAutoCatalogs(dir({ big, mid, small }), 50);
    expect([...plan.splits]).toEqual([big]);
  });

  it("splits deep subtrees bottom-up so that no catalog exceeds the limit", () => {
    const leaf = (): DirNode => dir(files(40));
    const [x, y, b] = [leaf(), leaf(), leaf()];
    const a = dir({ x, y });
    const plan = planAutoCatalogs(dir({ a, b }), 50);
    // a weighs 1 + 41 + 41 = 83 > 49: x goes (a: 43). Root: 1 + 43 + 41 = 85 > 49: a goes (43).
    expect([...plan.splits]).toEqual([x, a]);
    expect(plan.oversized).toEqual([]);
  });

  it("reports a directory whose own entries exceed the limit", () => {
    const flat = dir(files(60));
    const plan = planAutoCatalogs(dir({ flat }), 50);
    expect(plan.oversized).toContain(flat);
  });

  it("makes every directory holding a .cvmfscatalog file a catalog of its own", () => {
    const marked = dir({ ".cvmfscatalog": file({ size: 0, hash: fakeHash("empty") }) });
    const notAFile = dir({ ".cvmfscatalog": dir() });
    const plan = planAutoCatalogs(dir({ marked, notAFile }), 200_000);
    expect([...plan.splits]).toEqual([marked]);
  });
});
