import { UnsafePathError } from "../errors.js";
import { debug, silentLogger, type Logger } from "../logger.js";
import type { DirNode, NodeMeta, TreeNode } from "./types.js";
import type { LayerEntry } from "./layer-entry.js";
import { lookupNode, treeReadLink, type ImageTree } from "./image-tree.js";
import { ensureDirIn, hardlinkNode, nodeOfEntry, setDirMeta, unsafeReporter } from "./tree-nodes.js";
import {
  baseName,
  classifyName,
  cleanArchivePath,
  isUnsafeArchivePath,
  joinPath,
  parentPath,
  resolveInRootDetailed,
  type Resolution,
} from "./path-safety.js";

/** Who is being applied, for warnings that name image, layer and entry. */
export interface ApplyContext {
  logger?: Logger;
  image?: string;
  /** Layer digest (or index) for messages. */
  layer?: string;
}

/** What one layer did to the tree. */
export interface ApplyStats {
  entries: number;
  whiteouts: number;
  /** Entries refused or moved inside the root, each reported as a `tree.unsafe` warning. */
  warnings: number;
}

/**
 * Apply one layer's entries to the tree, in tar order, with the OCI rules (image-spec
 * layer.md) as umoci's `TarExtractor.UnpackEntry` implements them:
 * - every name is cleaned lexically, then its directory is resolved inside the root through the
 *   tree's symlinks (`..` and absolute names, `a -> /etc` or `a -> ../../..` then `a/x`, all land
 *   inside); the last component is never followed;
 * - missing parents are created with `impliedDirMeta`; a non-directory in the way is replaced;
 * - a directory entry over a directory keeps the children and takes the new metadata; any other
 *   entry replaces what was there (a file over a directory drops the whole subtree);
 * - `.wh.NAME` removes NAME and `.wh..wh..opq` empties its directory, but only of what earlier
 *   layers put there: entries this layer wrote (the "upper paths") survive, in any order;
 *   a whiteout of a missing path does nothing;
 * - a hardlink shares the target's node (same inode, same content): replacing or whiting out
 *   the target later leaves the link with the content it had, as on an extracted filesystem.
 * Refused entries (a non-directory for the root, hardlinks to missing paths or directories,
 * symlink loops) are skipped with a `tree.unsafe` warning; the tree is never left half-applied
 * for one entry. Mutates `tree`.
 */
export function applyLayer(tree: ImageTree, entries: Iterable<LayerEntry>, ctx: ApplyContext = {}): ApplyStats {
  const logger = ctx.logger ?? silentLogger;
  const stats: ApplyStats = { entries: 0, whiteouts: 0, warnings: 0 };
  // Paths (resolved, with every ancestor) written by this layer: whiteouts spare them.
  const upper = new Set<string>();
  const readlink = treeReadLink(tree.root);

  const report = unsafeReporter(ctx, () => stats.warnings++);

  const markUpper = (path: string): void => {
    for (let p = path; ; p = parentPath(p)) {
      if (upper.has(p)) break;
      upper.add(p);
      if (p === "/") break;
    }
  };

  /** The directory at resolved `dir`, made (and any non-directory in the way replaced) as needed. */
  const ensureDir = (dir: string, meta: NodeMeta, entry: string): DirNode =>
    ensureDirIn(tree.root, dir, meta, (_, child, path) => report(entry, `${path} is a ${child.type}, replaced by a directory`));

  /** Remove what lower layers put at `path` (a child `name` of `parent`), sparing upper paths. */
  const removeLower = (parent: DirNode, name: string, path: string): void => {
    const node = parent.children.get(name);
    if (node === undefined) return;
    if (!upper.has(path)) {
      parent.children.delete(name);
      return;
    }
    if (node.type === "dir") for (const child of [...node.children.keys()]) removeLower(node, child, joinPath(path, child));
  };

  for (const entry of entries) {
    stats.entries++;
    const name = entry.name;
    if (isUnsafeArchivePath(name)) report(name, "absolute or climbing name, applied inside the image root");
    const clean = cleanArchivePath(name);

    if (clean === "/") {
      if (entry.kind !== "dir") {
        report(name, `a ${entry.kind} cannot replace the image root; skipped`);
        continue;
      }
      setDirMeta(tree.root, entry.meta);
      upper.add("/");
      continue;
    }

    let resolution: Resolution;
    try {
      resolution = resolveInRootDetailed(parentPath(clean), readlink);
    } catch (err) {
      if (!(err instanceof UnsafePathError)) throw err;
      report(name, `${err.message}; skipped`);
      continue;
    }
    const dir = resolution.path;
    const base = baseName(clean);
    const path = joinPath(dir, base);
    // Following in-image symlinks (`/var/run -> /run`, `/lib -> usr/lib`) is ordinary; a link
    // climbing above the root is worth a warning even though it lands inside.
    if (resolution.clamped) report(name, `parent resolves through a symlink that climbs above the image root; applied at ${path}`);
    else if (resolution.followed > 0) debug(logger, "tree.resolved", `entry "${name}" applied at ${path}`, { image: ctx.image, layer: ctx.layer, entry: name, path });

    const nameKind = classifyName(base);
    if (nameKind.kind === "meta") continue;
    if (nameKind.kind === "whiteout" || nameKind.kind === "opaque") {
      stats.whiteouts++;
      const parent = lookupNode(tree.root, dir);
      if (parent?.type !== "dir") continue;
      if (nameKind.kind === "whiteout") {
        removeLower(parent, nameKind.name, joinPath(dir, nameKind.name));
      } else {
        for (const child of [...parent.children.keys()]) removeLower(parent, child, joinPath(dir, child));
      }
      continue;
    }

    let node: TreeNode;
    if (entry.kind === "whiteout") continue; // marked as a whiteout but named like a plain entry
    if (entry.kind === "hardlink") {
      const linked = hardlinkNode(tree.root, entry.target, readlink, { root: "the image root cannot be linked", missing: "target does not exist" });
      if (typeof linked === "string") {
        report(name, `hardlink to "${entry.target}": ${linked}; skipped`);
        continue;
      }
      if (isUnsafeArchivePath(entry.target)) report(name, `hardlink target "${entry.target}" taken inside the image root`);
      if (linked.path === path) continue; // a link to itself changes nothing
      node = linked.node;
    } else if (entry.kind === "dir") {
      const parent = ensureDir(dir, entry.meta, name);
      const existing = parent.children.get(base);
      if (existing?.type === "dir") {
        setDirMeta(existing, entry.meta);
        markUpper(path);
        continue;
      }
      node = nodeOfEntry(entry, 0);
    } else {
      node = nodeOfEntry(entry, entry.kind === "file" ? tree.nextInode++ : 0);
    }
    const parent = ensureDir(dir, node, name);
    parent.children.set(base, node);
    markUpper(path);
  }
  return stats;
}

