import { UnsafePathError } from "../errors.js";
import type { ApplyContext } from "./apply-layer.js";
import { impliedDirMeta, treeReadLink } from "./image-tree.js";
import type { LayerEntry } from "./layer-entry.js";
import { ensureDirIn, hardlinkNode, nodeOfEntry, setDirMeta, unsafeReporter } from "./tree-nodes.js";
import {
  baseName,
  classifyName,
  cleanArchivePath,
  isUnsafeArchivePath,
  joinPath,
  parentPath,
  resolveInRootDetailed,
} from "./path-safety.js";
import type { DirNode, NodeMeta, SpecialNode, TreeNode } from "./types.js";

/** The xattr kernel overlayfs reads to stop merging a directory with the layers below it. */
export const OPAQUE_XATTR = "trusted.overlay.opaque";

/** One layer on its own, as a kernel overlayfs lower directory, and what in it only a local stratum 0 can carry. */
export interface LayerTree {
  root: DirNode;
  /** Whiteouts written as character devices 0:0. */
  whiteouts: number;
  /** Directories carrying `trusted.overlay.opaque=y`. */
  opaqueDirs: number;
  /** Other fifos and devices of the layer itself (a gateway's catalog merge drops them too). */
  specials: number;
  /** Entries refused or moved inside the root, each reported as a `tree.unsafe` warning. */
  warnings: number;
}

/**
 * Builds ONE layer's own tree, unflattened, the way containerd's overlay snapshotter unpacks a
 * layer into an empty upper directory (archive `OverlayConvertWhiteout`) and kernel overlayfs
 * then reads it as a lower directory (Documentation/filesystems/overlayfs.rst, "whiteouts and
 * opaque directories"):
 * - `.wh.NAME` becomes a character device 0:0 named NAME, mode 0, owned by 0:0: what the kernel
 *   itself creates for a whiteout (`vfs_whiteout`, `WHITEOUT_MODE` 0, `WHITEOUT_DEV` 0);
 * - `.wh..wh..opq` becomes `trusted.overlay.opaque=y` on its directory (made when missing);
 * - a whiteout of a name this layer also writes keeps the layer's entry (OCI: the whiteout hides
 *   lower layers only); when that entry is a directory it becomes opaque instead, so that the
 *   lower directory's contents stay hidden under it, as the flattened image hides them;
 * - hardlinks share the target's node (one inode, one content); the target must be in this layer,
 *   as in a tar unpacked on its own (a link to a lower layer's file is refused with a warning);
 * - names are cleaned and their directories resolved through this layer's own symlinks only (an
 *   upper directory never sees the lower layers' links), with `path-safety`'s predicates;
 * - owners, modes, mtimes and xattrs as the tar says; implied parents as `applyLayer` makes them.
 * Pure: entries in, tree out; the entries are not modified. Keep the order of the tar.
 */
export function buildLayerTree(entries: Iterable<LayerEntry>, ctx: ApplyContext = {}): LayerTree {
  const root: DirNode = { type: "dir", ...impliedDirMeta(0), children: new Map() };
  const readlink = treeReadLink(root);
  // The whiteout devices this function made (a layer's own char 0:0 device is no whiteout).
  const whiteouts = new Set<SpecialNode>();
  let warnings = 0;
  let nextInode = 1;

  const report = unsafeReporter(ctx, () => warnings++);

  const ensureDir = (dir: string, meta: NodeMeta, entry: string): DirNode =>
    ensureDirIn(root, dir, meta, (made, child, path) => {
      // Under a whiteout device of the same name, the lower directory must stay hidden.
      if (whiteouts.has(child as SpecialNode)) makeOpaque(made);
      else report(entry, `${path} is a ${child.type}, replaced by a directory`);
    });

  for (const entry of entries) {
    const name = entry.name;
    if (isUnsafeArchivePath(name)) report(name, "absolute or climbing name, applied inside the layer root");
    const clean = cleanArchivePath(name);
    if (clean === "/") {
      if (entry.kind === "dir") setMeta(root, entry.meta);
      else report(name, `a ${entry.kind} cannot replace the layer root; skipped`);
      continue;
    }
    let dir: string;
    try {
      dir = resolveInRootDetailed(parentPath(clean), readlink).path;
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      report(name, `${err.message}; skipped`);
      continue;
    }
    const base = baseName(clean);
    const nameKind = classifyName(base);
    if (nameKind.kind === "meta") continue;
    if (nameKind.kind === "opaque") {
      makeOpaque(ensureDir(dir, entryMeta(entry), name));
      continue;
    }
    if (nameKind.kind === "whiteout") {
      const parent = ensureDir(dir, entryMeta(entry), name);
      const existing = parent.children.get(nameKind.name);
      if (existing?.type === "dir") makeOpaque(existing);
      else if (existing === undefined) {
        const device: SpecialNode = { type: "char", mode: 0, uid: 0, gid: 0, ...mtimeOf(entry), devMajor: 0, devMinor: 0 };
        whiteouts.add(device);
        parent.children.set(nameKind.name, device);
      }
      continue;
    }
    if (entry.kind === "whiteout") continue; // marked as a whiteout but named like a plain entry

    let node: TreeNode;
    if (entry.kind === "hardlink") {
      // Symlinks and devices have no inode in the tree: a copy, as applyLayer makes.
      const linked = hardlinkNode(root, entry.target, readlink, { root: "the layer root cannot be linked", missing: "target is not in this layer" });
      if (typeof linked === "string") {
        report(name, `hardlink to "${entry.target}": ${linked}; skipped`);
        continue;
      }
      if (linked.path === joinPath(dir, base)) continue;
      node = linked.node;
    } else if (entry.kind === "dir") {
      const parent = ensureDir(dir, entry.meta, name);
      const existing = parent.children.get(base);
      if (existing?.type === "dir") {
        setMeta(existing, entry.meta);
        continue;
      }
      node = nodeOfEntry(entry, 0);
      if (existing !== undefined && whiteouts.has(existing as SpecialNode)) makeOpaque(node as DirNode);
    } else {
      node = nodeOfEntry(entry, entry.kind === "file" ? nextInode++ : 0);
    }
    ensureDir(dir, node, name).children.set(base, node);
  }

  const counts = { whiteouts: 0, opaqueDirs: 0, specials: 0 };
  countNodes(root, whiteouts, counts);
  return { root, ...counts, warnings };
}

/** Metadata for implied parents of a whiteout, which carries none of its own. */
function entryMeta(entry: LayerEntry): NodeMeta {
  return "meta" in entry ? entry.meta : impliedDirMeta(0);
}

function mtimeOf(entry: LayerEntry): { mtime: number; mtimeNs: number } {
  return "meta" in entry ? { mtime: entry.meta.mtime, mtimeNs: entry.meta.mtimeNs } : { mtime: 0, mtimeNs: 0 };
}

function makeOpaque(dir: DirNode): void {
  dir.xattrs = { ...dir.xattrs, [OPAQUE_XATTR]: Buffer.from("y") };
}

/** A directory entry over a directory: the tar's metadata, the opaque mark kept (it is this layer's). */
function setMeta(dir: DirNode, meta: NodeMeta): void {
  const opaque = dir.xattrs?.[OPAQUE_XATTR];
  setDirMeta(dir, meta);
  if (opaque) makeOpaque(dir);
}

function countNodes(dir: DirNode, whiteouts: Set<SpecialNode>, out: { whiteouts: number; opaqueDirs: number; specials: number }): void {
  if (dir.xattrs?.[OPAQUE_XATTR]) out.opaqueDirs++;
  for (const child of dir.children.values()) {
    if (child.type === "dir") countNodes(child, whiteouts, out);
    else if (whiteouts.has(child as SpecialNode)) out.whiteouts++;
    else if (child.type !== "file" && child.type !== "symlink") out.specials++;
  }
}
