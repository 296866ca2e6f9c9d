import { describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/logger.js";
import { lookupNode, walkTree } from "../../src/tree/image-tree.js";
import type { LayerEntry } from "../../src/tree/layer-entry.js";
import { buildLayerTree, OPAQUE_XATTR } from "../../src/tree/layer-tree.js";
import type { NodeMeta, TreeNode } from "../../src/tree/types.js";

const meta = (mode: number, uid = 0, gid = 0, mtime = 1_700_000_000): NodeMeta => ({ mode, uid, gid, mtime, mtimeNs: 0 });
const file = (name: string, size = 1, m = meta(0o644)): LayerEntry => ({ kind: "file", name, meta: m, content: { size, hash: `${String(size).padStart(40, "0")}` } });
const dir = (name: string, m = meta(0o755)): LayerEntry => ({ kind: "dir", name, meta: m });
const whiteout = (name: string): LayerEntry => ({ kind: "whiteout", name });

const shape = (node: TreeNode | undefined): string => {
  if (node === undefined) return "absent";
  if (node.type === "char" || node.type === "block") return `${node.type} ${node.devMajor}:${node.devMinor} ${node.mode.toString(8)} ${node.uid}:${node.gid}`;
  const opaque = node.type === "dir" && node.xattrs?.[OPAQUE_XATTR] ? " opaque" : "";
  return `${node.type} ${node.mode.toString(8)} ${node.uid}:${node.gid}${opaque}`;
};

describe("buildLayerTree", () => {
  it.each<[string, LayerEntry[], Record<string, string>, { whiteouts: number; opaqueDirs: number }]>([
    ["WhiteoutBecomesCharDevice", [dir("etc/"), whiteout("etc/.wh.old")], { "/etc/old": "char 0:0 0 0:0", "/etc": "dir 755 0:0" }, { whiteouts: 1, opaqueDirs: 0 }],
    ["OpaqueMarkerBecomesXattr", [dir("var/"), dir("var/lib/"), whiteout("var/lib/.wh..wh..opq"), file("var/lib/new")], { "/var/lib": "dir 755 0:0 opaque", "/var/lib/new": "file 644 0:0", "/var/lib/.wh..wh..opq": "absent" }, { whiteouts: 0, opaqueDirs: 1 }],
    ["OpaqueMarkerBeforeItsDirectory", [whiteout("d/.wh..wh..opq"), dir("d/", meta(0o700, 5, 6))], { "/d": "dir 700 5:6 opaque" }, { whiteouts: 0, opaqueDirs: 1 }],
    ["WhiteoutInImpliedDirectory", [whiteout("a/b/.wh.c")], { "/a": "dir 755 0:0", "/a/b": "dir 755 0:0", "/a/b/c": "char 0:0 0 0:0" }, { whiteouts: 1, opaqueDirs: 0 }],
    ["WhiteoutThenSameFileKeepsFile", [whiteout(".wh.f"), file("f")], { "/f": "file 644 0:0" }, { whiteouts: 0, opaqueDirs: 0 }],
    ["FileThenWhiteoutKeepsFile", [file("f"), whiteout(".wh.f")], { "/f": "file 644 0:0" }, { whiteouts: 0, opaqueDirs: 0 }],
    ["WhiteoutThenSameDirIsOpaque", [whiteout(".wh.d"), dir("d/"), file("d/x")], { "/d": "dir 755 0:0 opaque", "/d/x": "file 644 0:0" }, { whiteouts: 0, opaqueDirs: 1 }],
    ["DirThenWhiteoutIsOpaque", [dir("d/"), file("d/x"), whiteout(".wh.d")], { "/d": "dir 755 0:0 opaque", "/d/x": "file 644 0:0" }, { whiteouts: 0, opaqueDirs: 1 }],
    ["WhiteoutThenImpliedDirIsOpaque", [whiteout(".wh.d"), file("d/x")], { "/d": "dir 755 0:0 opaque" }, { whiteouts: 0, opaqueDirs: 1 }],
    ["AufsMetaNamesSkipped", [whiteout(".wh..wh.plnk"), whiteout("a/.wh..wh.aufs")], { "/.wh..wh.plnk": "absent", "/a": "absent" }, { whiteouts: 0, opaqueDirs: 0 }],
    ["OwnersAndModesAsTheTarSays", [dir("srv/", meta(0o2775, 10, 20)), file("srv/run", 3, meta(0o4755, 0, 7))], { "/srv": "dir 2775 10:20", "/srv/run": "file 4755 0:7" }, { whiteouts: 0, opaqueDirs: 0 }],
  ])("%s", (_name, entries, expected, counts) => {
    const layer = buildLayerTree(entries);
    for (const [path, want] of Object.entries(expected)) expect(shape(lookupNode(layer.root, path)), path).toBe(want);
    expect({ whiteouts: layer.whiteouts, opaqueDirs: layer.opaqueDirs }).toEqual(counts);
    expect(layer.warnings).toBe(0);
  });

  it("keeps hardlinks as one node within the layer and refuses links to lower layers", () => {
    const logger = memoryLogger();
    const layer = buildLayerTree(
      [file("bin/sh", 7, meta(0o755)), { kind: "hardlink", name: "bin/ash", target: "bin/sh" }, { kind: "hardlink", name: "bin/bash", target: "usr/bin/bash" }],
      { logger, layer: "sha256:abc" },
    );
    const sh = lookupNode(layer.root, "/bin/sh");
    expect(lookupNode(layer.root, "/bin/ash")).toBe(sh);
    expect(lookupNode(layer.root, "/bin/bash")).toBeUndefined();
    expect(layer.warnings).toBe(1);
    expect(logger.events.map((e) => e.event)).toEqual(["tree.unsafe"]);
  });

  it("resolves names through the layer's own symlinks only, inside the root", () => {
    const layer = buildLayerTree([
      { kind: "symlink", name: "lib", meta: meta(0o777), target: "usr/lib" },
      file("lib/libc.so"),
      file("../../etc/escape"),
    ]);
    expect(shape(lookupNode(layer.root, "/usr/lib/libc.so"))).toBe("file 644 0:0");
    expect(shape(lookupNode(layer.root, "/etc/escape"))).toBe("file 644 0:0");
    expect(layer.warnings).toBe(1);
  });

  it("takes the root's metadata from a ./ entry and counts the layer's own devices apart from whiteouts", () => {
    const layer = buildLayerTree([
      dir("./", meta(0o750, 1, 2)),
      { kind: "char", name: "dev/null", meta: meta(0o666), devMajor: 1, devMinor: 3 },
      { kind: "char", name: "dev/zero0", meta: meta(0o600), devMajor: 0, devMinor: 0 },
      whiteout("dev/.wh.gone"),
    ]);
    expect(shape(layer.root)).toBe("dir 750 1:2");
    expect({ whiteouts: layer.whiteouts, specials: layer.specials }).toEqual({ whiteouts: 1, specials: 2 });
    expect([...walkTree(layer.root)].map(([p]) => p)).toEqual(["/", "/dev", "/dev/gone", "/dev/null", "/dev/zero0"]);
  });
});
