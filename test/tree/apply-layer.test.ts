import { describe, expect, it } from "vitest";
import { memoryLogger } from "../../src/logger.js";
import { applyLayer } from "../../src/tree/apply-layer.js";
import { createImageTree, walkTree } from "../../src/tree/image-tree.js";
import type { LayerEntry } from "../../src/tree/layer-entry.js";
import type { DirNode, NodeMeta } from "../../src/tree/types.js";

const meta = (mode: number, extra: Partial<NodeMeta> = {}): NodeMeta => ({ mode, uid: 0, gid: 0, mtime: 100, mtimeNs: 0, ...extra });
const file = (name: string, text: string, m: Partial<NodeMeta> & { mode?: number } = {}): LayerEntry => ({
  kind: "file",
  name,
  meta: meta(m.mode ?? 0o644, m),
  content: { size: text.length, hash: `h:${text}` },
});
const dir = (name: string, m: Partial<NodeMeta> & { mode?: number } = {}): LayerEntry => ({ kind: "dir", name, meta: meta(m.mode ?? 0o755, m) });
const sym = (name: string, target: string): LayerEntry => ({ kind: "symlink", name, meta: meta(0o777), target });
const hard = (name: string, target: string): LayerEntry => ({ kind: "hardlink", name, target });
const wh = (path: string): LayerEntry => {
  const i = path.lastIndexOf("/");
  return { kind: "whiteout", name: `${path.slice(0, i + 1)}.wh.${path.slice(i + 1)}` };
};
const opq = (path: string): LayerEntry => ({ kind: "whiteout", name: `${path}/.wh..wh..opq` });

/** `path → "type mode [owner] detail"`, root left out. */
function dump(root: DirNode): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, n] of walkTree(root)) {
    if (path === "/") continue;
    const owner = n.uid !== 0 || n.gid !== 0 ? ` ${n.uid}:${n.gid}` : "";
    const mode = n.mode.toString(8);
    if (n.type === "dir") out[path] = `dir ${mode}${owner}`;
    else if (n.type === "file") out[path] = `file ${mode}${owner} ${n.content.hash} #${n.inode}`;
    else if (n.type === "symlink") out[path] = `symlink -> ${n.target}`;
    else out[path] = `${n.type} ${mode} ${n.devMajor},${n.devMinor}`;
  }
  return out;
}

function apply(layers: LayerEntry[][]): { tree: ReturnType<typeof createImageTree>; warnings: string[] } {
  const tree = createImageTree();
  const logger = memoryLogger();
  layers.forEach((entries, i) => {
    applyLayer(tree, entries, { logger, image: "test/image:1", layer: `L${i}` });
  });
  return { tree, warnings: logger.events.filter((e) => e.event === "tree.unsafe").map((e) => String(e.fields?.entry)) };
}

interface Case {
  name: string;
  layers: LayerEntry[][];
  tree: Record<string, string>;
  /** Entries expected to be named in `tree.unsafe` warnings (in order). */
  warnings?: string[];
}

const cases: Case[] = [
  {
    name: "PlainFiles",
    layers: [[dir("etc"), file("etc/passwd", "root", { mode: 0o4755, uid: 5, gid: 6 }), sym("etc/l", "passwd")]],
    tree: { "/etc": "dir 755", "/etc/passwd": "file 4755 5:6 h:root #1", "/etc/l": "symlink -> passwd" },
  },
  {
    name: "ImpliedParents",
    layers: [[file("a/b/c", "x", { mtime: 42 })]],
    tree: { "/a": "dir 755", "/a/b": "dir 755", "/a/b/c": "file 644 h:x #1" },
  },
  {
    name: "WhiteoutFile",
    layers: [[file("a/x", "1"), file("a/y", "2")], [wh("a/x")]],
    tree: { "/a": "dir 755", "/a/y": "file 644 h:2 #2" },
  },
  {
    name: "WhiteoutDirectory",
    layers: [[file("a/b/x", "1"), file("keep", "k")], [wh("a/b")]],
    tree: { "/a": "dir 755", "/keep": "file 644 h:k #2" },
  },
  {
    name: "WhiteoutMissingPathIsIgnored",
    layers: [[file("a", "1")], [wh("nothing/here"), wh("a/below-a-file"), wh("zz")]],
    tree: { "/a": "file 644 h:1 #1" },
  },
  {
    name: "WhiteoutThenReaddSameLayer",
    layers: [[file("a/x", "old")], [wh("a/x"), file("a/x", "new")]],
    tree: { "/a": "dir 755", "/a/x": "file 644 h:new #2" },
  },
  {
    name: "WhiteoutAfterEntryOfSameLayerSparesIt",
    layers: [[file("a/x", "old")], [file("a/x", "new"), wh("a/x")]],
    tree: { "/a": "dir 755", "/a/x": "file 644 h:new #2" },
  },
  {
    name: "WhiteoutOfDirSparesSameLayerChildren",
    layers: [[file("d/old", "o")], [file("d/new", "n"), wh("d")]],
    tree: { "/d": "dir 755", "/d/new": "file 644 h:n #2" },
  },
  {
    name: "OpaqueHidesLowerOnly",
    layers: [[file("d/old", "o"), file("d/sub/x", "x"), file("other", "t")], [opq("d"), file("d/new", "n")]],
    tree: { "/d": "dir 755", "/d/new": "file 644 h:n #4", "/other": "file 644 h:t #3" },
  },
  {
    name: "OpaqueAfterSameLayerEntries",
    layers: [[file("d/old", "o")], [dir("d", { mode: 0o700 }), file("d/new", "n"), opq("d")]],
    tree: { "/d": "dir 700", "/d/new": "file 644 h:n #2" },
  },
  {
    name: "OpaqueOfMissingDirIsIgnored",
    layers: [[file("x", "1")], [opq("nope")]],
    tree: { "/x": "file 644 h:1 #1" },
  },
  {
    name: "FileReplacesDirectoryAndBack",
    layers: [[file("p/child", "c")], [file("p", "now a file")], [dir("p", { mode: 0o711 }), file("p/again", "a")]],
    tree: { "/p": "dir 711", "/p/again": "file 644 h:a #3" },
  },
  {
    name: "DirectoryOverDirectoryKeepsChildren",
    layers: [[dir("d", { uid: 1 }), file("d/x", "x")], [dir("d", { mode: 0o1777, gid: 9, xattrs: { "user.a": Buffer.from("1") } })]],
    tree: { "/d": "dir 1777 0:9", "/d/x": "file 644 h:x #1" },
  },
  {
    name: "DuplicateEntriesLastWins",
    layers: [[file("f", "one"), file("f", "two", { mode: 0o600 }), dir("d", { mode: 0o700 }), dir("d", { mode: 0o750 })]],
    tree: { "/f": "file 600 h:two #2", "/d": "dir 750" },
  },
  {
    name: "HardlinkSameLayer",
    layers: [[file("bin/a", "A", { mode: 0o755 }), hard("bin/b", "bin/a")]],
    tree: { "/bin": "dir 755", "/bin/a": "file 755 h:A #1", "/bin/b": "file 755 h:A #1" },
  },
  {
    name: "HardlinkToEarlierLayerThenTargetWhitedOut",
    layers: [[file("a", "A")], [hard("b", "a")], [wh("a")]],
    tree: { "/b": "file 644 h:A #1" },
  },
  {
    name: "HardlinkKeepsContentWhenTargetReplaced",
    layers: [[file("a", "A"), hard("b", "a")], [file("a", "A2")]],
    tree: { "/a": "file 644 h:A2 #2", "/b": "file 644 h:A #1" },
  },
  {
    name: "HardlinkToSymlinkLinksTheSymlink",
    layers: [[sym("s", "/etc/passwd"), hard("h", "s")]],
    tree: { "/s": "symlink -> /etc/passwd", "/h": "symlink -> /etc/passwd" },
  },
  {
    name: "HardlinkMissingOrDirectoryRefused",
    layers: [[dir("d"), hard("x", "missing"), hard("y", "d")]],
    tree: { "/d": "dir 755" },
    warnings: ["x", "y"],
  },
  {
    name: "HardlinkOutsideResolvesInside",
    layers: [[file("etc/passwd", "P"), hard("h", "../../etc/passwd"), hard("g", "/etc/passwd")]],
    tree: { "/etc": "dir 755", "/etc/passwd": "file 644 h:P #1", "/h": "file 644 h:P #1", "/g": "file 644 h:P #1" },
    warnings: ["h", "g"],
  },
  {
    name: "HardlinkThroughSymlinkedDirectory",
    layers: [[file("real/f", "F"), sym("via", "/real")], [hard("h", "via/f")]],
    tree: { "/real": "dir 755", "/real/f": "file 644 h:F #1", "/via": "symlink -> /real", "/h": "file 644 h:F #1" },
  },
  {
    name: "SpecialFiles",
    layers: [
      [
        { kind: "char", name: "dev/null", meta: meta(0o666), devMajor: 1, devMinor: 3 },
        { kind: "block", name: "dev/sda", meta: meta(0o660, { gid: 6 }), devMajor: 8, devMinor: 0 },
        { kind: "fifo", name: "run/fifo", meta: meta(0o600), devMajor: 0, devMinor: 0 },
      ],
    ],
    tree: { "/dev": "dir 755", "/dev/null": "char 666 1,3", "/dev/sda": "block 660 8,0", "/run": "dir 755", "/run/fifo": "fifo 600 0,0" },
  },
  {
    name: "DotDotAndAbsoluteNamesStayInside",
    layers: [[file("../../etc/evil", "e"), file("/abs", "a"), file("a/../b", "b")]],
    tree: { "/etc": "dir 755", "/etc/evil": "file 644 h:e #1", "/abs": "file 644 h:a #2", "/b": "file 644 h:b #3" },
    warnings: ["../../etc/evil", "/abs", "a/../b"],
  },
  {
    name: "SymlinkToAbsoluteDirThenWriteSameLayer",
    layers: [[sym("a", "/etc"), file("a/x", "x")]],
    tree: { "/a": "symlink -> /etc", "/etc": "dir 755", "/etc/x": "file 644 h:x #1" },
  },
  {
    name: "SymlinkClimbingThenWriteAcrossLayers",
    layers: [[sym("a", "../../.."), sym("b", "../../../tmp")], [file("a/x", "x"), file("b/y", "y")]],
    tree: { "/a": "symlink -> ../../..", "/b": "symlink -> ../../../tmp", "/x": "file 644 h:x #1", "/tmp": "dir 755", "/tmp/y": "file 644 h:y #2" },
    warnings: ["a/x", "b/y"],
  },
  {
    name: "WhiteoutThroughSymlinkedDirectory",
    layers: [[file("real/f", "F"), file("real/g", "G"), sym("via", "real")], [wh("via/f")]],
    tree: { "/real": "dir 755", "/real/g": "file 644 h:G #2", "/via": "symlink -> real" },
  },
  {
    name: "SymlinkLoopRefused",
    layers: [[sym("l1", "l2"), sym("l2", "l1"), file("l1/x", "x")]],
    tree: { "/l1": "symlink -> l2", "/l2": "symlink -> l1" },
    warnings: ["l1/x"],
  },
  {
    name: "SymlinkReplacedByDirectory",
    layers: [[sym("a", "/etc")], [dir("a"), file("a/x", "x")]],
    tree: { "/a": "dir 755", "/a/x": "file 644 h:x #1" },
  },
  {
    name: "RootEntryMetadataAndRefusedTypeChange",
    layers: [[dir("./", { mode: 0o700 }), file(".", "evil"), sym("/", "/etc")]],
    tree: {},
    warnings: [".", "/", "/"],
  },
  {
    name: "FileInTheWayOfAParentIsReplaced",
    layers: [[file("a", "1")], [file("a/b", "2")]],
    tree: { "/a": "dir 755", "/a/b": "file 644 h:2 #2" },
    warnings: ["a/b"],
  },
];

describe("applyLayer", () => {
  it.each(cases)("$name", ({ layers, tree, warnings }) => {
    const result = apply(layers);
    expect(dump(result.tree.root)).toEqual(tree);
    expect(result.warnings).toEqual(warnings ?? []);
  });

  it("applies root metadata from a './' entry", () => {
    const { tree } = apply([[dir("./", { mode: 0o700, mtime: 7 })]]);
    expect(tree.root.mode).toBe(0o700);
    expect(tree.root.mtime).toBe(7);
  });

  it("shares one node between hardlinks (one inode, one content)", () => {
    const { tree } = apply([[file("a", "A"), hard("b", "a")]]);
    expect(tree.root.children.get("a")).toBe(tree.root.children.get("b"));
  });

  it("names image, layer and entry in warnings", () => {
    const tree = createImageTree();
    const logger = memoryLogger();
    applyLayer(tree, [file("../x", "x")], { logger, image: "reg/img:tag", layer: "sha256:abc" });
    expect(logger.events[0]).toMatchObject({ level: "warn", event: "tree.unsafe", fields: { image: "reg/img:tag", layer: "sha256:abc", entry: "../x" } });
    expect(logger.events[0]!.message).toContain("reg/img:tag");
  });
});
