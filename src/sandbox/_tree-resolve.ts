import type { DirNode, TreeNode } from "../tree/types.js";

/**
 * Path resolution inside an image tree, with the image root as `/`: what `os.Root` gives
 * Apptainer's build when it writes into the unpacked image. Symlinks are followed inside the tree
 * (absolute targets from the image root, `..` stopping at it), never out of it.
 */

/** Where a path lands: the directory that holds (or would hold) the last component. */
export interface Located {
  parent: DirNode;
  name: string;
  node: TreeNode | undefined;
}

/** As Linux's MAXSYMLINKS: more links than this on one path is a loop. */
const MAX_HOPS = 40;

export interface LocateOptions {
  /** Follow a symlink in the last component too (open(2) without O_NOFOLLOW). */
  followFinal: boolean;
  /**
   * Makes a directory for a missing intermediate component, or one that is neither a directory
   * nor a symlink (it is replaced); it is given the directory the new one goes into. Without it,
   * such a path is not located.
   */
  makeDir?: (parent: DirNode) => DirNode;
}

/**
 * Locate `path` (absolute) in the tree. Returns undefined when it cannot be resolved: a symlink
 * loop, or an intermediate component that is missing or not a directory and `makeDir` is absent.
 * The path `/` itself has no parent and is not located.
 */
export function locate(root: DirNode, path: string, opts: LocateOptions): Located | undefined {
  const stack: DirNode[] = [root];
  let queue = components(path);
  let hops = 0;
  while (queue.length > 0) {
    const name = queue.shift() as string;
    if (name === "..") {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const dir = stack[stack.length - 1] as DirNode;
    const node = dir.children.get(name);
    const last = queue.length === 0;
    if (node?.type === "symlink" && (!last || opts.followFinal)) {
      if (++hops > MAX_HOPS) return undefined;
      if (node.target.startsWith("/")) stack.splice(1);
      queue = [...components(node.target), ...queue];
      // a link to "/" (or to ".") names the directory it resolved to, which has no parent entry
      if (queue.length === 0) return undefined;
      continue;
    }
    if (last) return { parent: dir, name, node };
    if (node?.type === "dir") {
      stack.push(node);
      continue;
    }
    if (!opts.makeDir) return undefined;
    const made = opts.makeDir(dir);
    dir.children.set(name, made);
    stack.push(made);
  }
  return undefined;
}

/**
 * Locate `path` component by component without following anything, replacing every intermediate
 * component that is not a directory with one from `makeDir`. The fallback for paths Apptainer's
 * metadata must reach even through a broken or looping link.
 */
export function locateLiteral(root: DirNode, path: string, makeDir: (parent: DirNode) => DirNode): Located | undefined {
  const parts = components(path).filter((c) => c !== "..");
  const name = parts.pop();
  if (name === undefined) return undefined;
  let dir = root;
  for (const part of parts) {
    const node = dir.children.get(part);
    if (node?.type === "dir") {
      dir = node;
      continue;
    }
    const made = makeDir(dir);
    dir.children.set(part, made);
    dir = made;
  }
  return { parent: dir, name, node: dir.children.get(name) };
}

/** Path components without empty and `.` ones. */
function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}
