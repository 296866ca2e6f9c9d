/**
 * `verify`'s view of the per-architecture tree, table-driven over an in-memory repository: each
 * name must reach an image directory, the variant link each published architecture's own
 * directory; architectures the repository does not publish are not its problem.
 */
import { describe, expect, it } from "vitest";
import { resolveRepositoryPath } from "../../src/cvmfs/repository/variant-symlink.js";
import { isBareArchRoot, parseArchName } from "../../src/platforms/arch-names.js";
import { checkArchTree, type ArchTreeSource } from "../../src/platforms/check-arch-tree.js";

const IMG_A = "/.images/aa/aaaa";
const IMG_B = "/.images/bb/bbbb";

/** A repository from `path → symlink target` (strings) and directories (null); parents are implied. */
function repo(entries: Record<string, string | null>): ArchTreeSource {
  const all = new Map<string, { kind: string; symlink?: string }>();
  for (const [path, target] of Object.entries(entries)) {
    all.set(path, target === null ? { kind: "dir" } : { kind: "symlink", symlink: target });
    for (let p = path.slice(0, path.lastIndexOf("/")); p !== ""; p = p.slice(0, p.lastIndexOf("/"))) if (!all.has(p)) all.set(p, { kind: "dir" });
  }
  const lookup = async (path: string) => all.get(path) ?? null;
  return {
    lookup,
    listing: async (dir) => [...all].filter(([p]) => p.slice(0, p.lastIndexOf("/")) === dir).map(([path, e]) => ({ path, kind: e.kind })),
    resolvePath: (path, env) => resolveRepositoryPath(path, async (p) => { const e = all.get(p); return e ? { kind: e.kind, symlink: e.symlink ?? "" } : null; }, env),
  };
}

const healthy = {
  [IMG_A]: null,
  [IMG_B]: null,
  "/.multiarch/host": "$(CVMFS_ARCH)",
  "/.multiarch/x86_64": "amd64",
  "/.multiarch/aarch64": "arm64",
  "/.multiarch/amd64/lib/a:1": "../../../.images/aa/aaaa",
  "/.multiarch/arm64/lib/a:1": "../../../.images/bb/bbbb",
  "/lib/a:1": "../.images/aa/aaaa",
};
const check = (entries: Record<string, string | null>, variantLinks?: string[]) => checkArchTree(repo(entries), { imageRoots: ["/.images"], ...(variantLinks ? { variantLinks } : {}) });

describe("checkArchTree", () => {
  it.each([
    ["HealthyTreeWithoutPpc64le", healthy, []],
    ["NoTreeAtAll", { [IMG_A]: null, "/lib/a:1": "../.images/aa/aaaa" }, []],
    ["DanglingName", { ...healthy, "/.multiarch/arm64/lib/gone:1": "../../../.images/00/0000" }, ["/.multiarch/arm64/lib/gone:1: dangling (resolves to /.images/00/0000)"]],
    ["NameOutsideTheImages", { ...healthy, "/.multiarch/arm64/lib/odd:1": "../../../lib" }, ["/.multiarch/arm64/lib/odd:1: resolves to /lib, which is not an image directory"]],
    ["MissingAlias", { ...healthy, "/.multiarch/x86_64": null }, ["/.multiarch/host with CVMFS_ARCH=x86_64: resolves to /.multiarch/x86_64, not /.multiarch/amd64"]],
    ["AliasOntoTheWrongArchitecture", { ...healthy, "/.multiarch/aarch64": "amd64" }, ["/.multiarch/host with CVMFS_ARCH=aarch64: resolves to /.multiarch/amd64, not /.multiarch/arm64"]],
    ["PublishedPpc64leWithBrokenHost", { ...healthy, "/.multiarch/host": "$(CVMFS_ARCH)/nothing", "/.multiarch/ppc64le/lib/a:1": "../../../.images/aa/aaaa" }, [
      "/.multiarch/host with CVMFS_ARCH=x86_64: resolves to /.multiarch/amd64/nothing, not /.multiarch/amd64",
      "/.multiarch/host with CVMFS_ARCH=aarch64: resolves to /.multiarch/arm64/nothing, not /.multiarch/arm64",
      "/.multiarch/host with CVMFS_ARCH=ppc64le: resolves to /.multiarch/ppc64le/nothing, not /.multiarch/ppc64le",
    ]],
  ] as const)("%s", async (_name, entries, problems) => {
    expect(await check(entries)).toEqual(problems);
  });

  it("resolves variant links elsewhere for each published architecture", async () => {
    const entries = { ...healthy, "/lib/mine:1": "../.multiarch/$(CVMFS_ARCH)/lib/a:1", "/lib/other:1": "../.multiarch/$(CVMFS_ARCH)/lib/b:1" };
    expect(await check(entries, ["/lib/mine:1", "/lib/other:1"])).toEqual([
      "/lib/other:1 with CVMFS_ARCH=x86_64: dangling (resolves to /.multiarch/amd64/lib/b:1)",
      "/lib/other:1 with CVMFS_ARCH=aarch64: dangling (resolves to /.multiarch/arm64/lib/b:1)",
    ]);
  });
});

describe("arch names", () => {
  it("a tree with only its fixed links left is bare", () => {
    expect(isBareArchRoot(["aarch64", "host", "x86_64"])).toBe(true);
    expect(isBareArchRoot([])).toBe(true);
    expect(isBareArchRoot(["aarch64", "arm64", "host", "x86_64"])).toBe(false);
  });

  it("takes a per-architecture name apart; the links themselves and other paths are none", () => {
    expect(parseArchName("/.multiarch/arm64/lib/a:1")).toEqual({ arch: "arm64", publicPath: "/lib/a:1", hostPath: "/.multiarch/host/lib/a:1", clientArch: "aarch64" });
    expect(parseArchName("/.multiarch/ppc64le/r.example/x/y:2")).toMatchObject({ arch: "ppc64le", publicPath: "/r.example/x/y:2", clientArch: "ppc64le" });
    for (const other of ["/lib/a:1", "/.multiarch/host", "/.multiarch/host/lib/a:1", "/.multiarch/x86_64/lib/a:1", "/.multiarchive/arm64/a:1"]) expect(parseArchName(other), other).toBeUndefined();
  });
});
