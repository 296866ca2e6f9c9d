import { UnsafePathError } from "../errors.js";
import { silentLogger, warn, type Logger } from "../logger.js";
import { impliedDirMeta, lookupNode } from "./image-tree.js";
import type { LayerEntry } from "./layer-entry.js";
import { baseName, cleanArchivePath, joinPath, parentPath, pathParts, resolveInRoot } from "./path-safety.js";
import type { DirNode, NodeMeta, TreeNode } from "./types.js";

/**
 * What the flattening applier and the per-layer builder both do with one entry: copy its
 * metadata into a node, put a directory entry's metadata on a directory that is there, and find
 * the node a hardlink names. One place, so a layer's own tree and the flattened image can never
 * read an entry differently.
 */

/** An entry's metadata as a node keeps it: permission bits only, xattrs copied when there are any. */
export function copyMeta(meta: NodeMeta): NodeMeta {
  const out: NodeMeta = { mode: meta.mode & 0o7777, uid: meta.uid, gid: meta.gid, mtime: meta.mtime, mtimeNs: meta.mtimeNs };
  if (meta.xattrs && Object.keys(meta.xattrs).length > 0) out.xattrs = { ...meta.xattrs };
  return out;
}

/** A directory entry over a directory: new metadata (xattrs replaced, not merged), children kept. */
export function setDirMeta(dir: DirNode, meta: NodeMeta): void {
  const m = copyMeta(meta);
  dir.mode = m.mode;
  dir.uid = m.uid;
  dir.gid = m.gid;
  dir.mtime = m.mtime;
  dir.mtimeNs = m.mtimeNs;
  if (m.xattrs) dir.xattrs = m.xattrs;
  else delete dir.xattrs;
}

/** The new node of a directory, file, symlink or device entry (a file gets `inode`). */
export function nodeOfEntry(entry: Exclude<LayerEntry, { kind: "hardlink" | "whiteout" }>, inode: number): TreeNode {
  switch (entry.kind) {
    case "dir":
      return { type: "dir", ...copyMeta(entry.meta), children: new Map() };
    case "file":
      return { type: "file", ...copyMeta(entry.meta), content: entry.content, inode };
    case "symlink":
      return { type: "symlink", ...copyMeta(entry.meta), target: entry.target };
    default:
      return { type: entry.kind, ...copyMeta(entry.meta), devMajor: entry.devMajor, devMinor: entry.devMinor };
  }
}

/**
 * The node a hardlink names under `root`: its directory resolved inside the root, its last
 * component not followed (a link to a symlink links the symlink). Returns a reason string when
 * refused (`missing` when nothing is there). Files are shared (one inode); symlinks and special
 * files are copied, since the tree gives them no inode (only their link count differs).
 */
export function hardlinkNode(
  root: DirNode,
  target: string,
  readlink: (p: string) => string | undefined,
  reasons: { root: string; missing: string },
): { node: TreeNode; path: string } | string {
  const clean = cleanArchivePath(target);
  if (clean === "/") return reasons.root;
  let dir: string;
  try {
    dir = resolveInRoot(parentPath(clean), readlink);
  } catch (err) {
    if (err instanceof UnsafePathError) return err.message;
    throw err;
  }
  const path = joinPath(dir, baseName(clean));
  const node = lookupNode(root, path);
  if (node === undefined) return reasons.missing;
  if (node.type === "dir") return "target is a directory";
  if (node.type === "file") return { node, path };
  return { node: { ...node, ...copyMeta(node) }, path };
}

/**
 * The `tree.unsafe` warning of one entry (a name taken inside the root, a target refused, a
 * non-directory replaced), naming the image and layer; `counted` is called once per warning.
 */
export function unsafeReporter(ctx: { logger?: Logger; image?: string; layer?: string }, counted: () => void): (entry: string, reason: string) => void {
  const logger = ctx.logger ?? silentLogger;
  return (entry, reason) => {
    counted();
    warn(logger, "tree.unsafe", `${ctx.image ?? "image"} layer ${ctx.layer ?? "?"}: entry "${entry}": ${reason}`, {
      image: ctx.image,
      layer: ctx.layer,
      entry,
      reason,
    });
  };
}

/**
 * The directory at resolved `dir` under `root`, made as needed with implied metadata (the
 * entry's time); a non-directory in the way is replaced, after `replacing(made, child, path)`
 * has had its say (a warning, or a mark on the new directory).
 */
export function ensureDirIn(root: DirNode, dir: string, meta: NodeMeta, replacing: (made: DirNode, child: TreeNode, path: string) => void): DirNode {
  let node = root;
  let path = "/";
  for (const part of pathParts(dir)) {
    path = joinPath(path, part);
    const child = node.children.get(part);
    if (child?.type === "dir") {
      node = child;
      continue;
    }
    const made: DirNode = { type: "dir", ...impliedDirMeta(meta.mtime, meta.mtimeNs), children: new Map() };
    if (child !== undefined) replacing(made, child, path);
    node.children.set(part, made);
    node = made;
  }
  return node;
}
