import { UnsafePathError } from "../errors.js";
import type { DirNode, NodeMeta, TreeNode } from "./types.js";
import { isSingleComponent, pathParts, type ReadLink } from "./path-safety.js";

/**
 * An image tree under construction: the root directory plus the inode counter that numbers
 * files (hardlinks share a node, hence an inode). Build one with `createImageTree`, feed it layers
 * with `applyLayer`, then hand `root` to the catalog writer or the materialiser.
 */
export interface ImageTree {
  root: DirNode;
  /** Next inode number to hand out; inodes are unique per tree and start at 1. */
  nextInode: number;
}

/**
 * Metadata of a directory no tar entry describes (the root before a layer names it, implied
 * parents): what umoci's `MkdirAll(dir, 0777)` under the usual 022 umask leaves, owned by root
 * as a rootless unpack maps the runner. umoci's mtime is the wall clock; ours is the mtime of the
 * entry that implied the directory, so that converting an image twice gives the same tree.
 */
export function impliedDirMeta(mtime: number, mtimeNs = 0): NodeMeta {
  return { mode: 0o755, uid: 0, gid: 0, mtime, mtimeNs };
}

/** An empty tree whose root has the implied-directory metadata (mtime 0 until a layer sets it). */
export function createImageTree(rootMeta: NodeMeta = impliedDirMeta(0)): ImageTree {
  return { root: { type: "dir", ...rootMeta, children: new Map() }, nextInode: 1 };
}

/** The node at a clean absolute path, following no symlinks; `undefined` when absent. */
export function lookupNode(root: DirNode, clean: string): TreeNode | undefined {
  let node: TreeNode = root;
  for (const part of pathParts(clean)) {
    if (node.type !== "dir") return undefined;
    const next: TreeNode | undefined = node.children.get(part);
    if (next === undefined) return undefined;
    node = next;
  }
  return node;
}

/** A `ReadLink` over the tree, for `resolveInRoot`. */
export function treeReadLink(root: DirNode): ReadLink {
  return (clean) => {
    const node = lookupNode(root, clean);
    return node?.type === "symlink" ? node.target : undefined;
  };
}

/**
 * Every node with its clean absolute path, parents before children, children in name order.
 * A name that is not a single path component (empty, `.`, `..`, or holding `/` or NUL) was not
 * made by `applyLayer`; it is refused here, where names become paths that others write to.
 */
export function* walkTree(root: DirNode, base = "/"): Generator<[string, TreeNode]> {
  yield [base, root];
  const names = [...root.children.keys()].sort();
  for (const name of names) {
    if (!isSingleComponent(name)) {
      throw new UnsafePathError(`${base === "/" ? "" : base}/${name}`, "the image tree holds a name that is not a single path component; refused");
    }
    const child = root.children.get(name)!;
    const path = base === "/" ? `/${name}` : `${base}/${name}`;
    if (child.type === "dir") yield* walkTree(child, path);
    else yield [path, child];
  }
}

/** Counts of a finished tree, for stats and logs. */
export function countTree(root: DirNode): { files: number; dirs: number; symlinks: number; specials: number; bytes: number } {
  const c = { files: 0, dirs: 0, symlinks: 0, specials: 0, bytes: 0 };
  const seen = new Set<number>();
  for (const [, node] of walkTree(root)) {
    if (node.type === "dir") c.dirs++;
    else if (node.type === "symlink") c.symlinks++;
    else if (node.type === "file") {
      c.files++;
      // Hardlinked bytes are stored (and counted) once.
      if (!seen.has(node.inode)) c.bytes += node.content.size;
      seen.add(node.inode);
    } else c.specials++;
  }
  return c;
}
