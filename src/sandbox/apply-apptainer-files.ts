import { Readable } from "node:stream";
import type { ContentStore, FileContent } from "../content/content-store.js";
import type { ImageTree } from "../tree/image-tree.js";
import type { DirNode, FileNode, TreeNode } from "../tree/types.js";
import type { ApptainerFile } from "./apptainer-file.js";
import { locate, locateLiteral, type Located } from "./_tree-resolve.js";
import { SINGULARITY_D } from "./singularity-d.js";

/**
 * Insert Apptainer's files (from `assembleApptainerFiles`) into an image tree, in list order,
 * following each file's `onExisting` rule the way Apptainer's build treats the unpacked image:
 * directory components are resolved through the image's own symlinks, inside the image;
 * missing parents are created (0755, root:root). Contents go to `store` through `putFile`.
 *
 * New and replaced nodes are owned by root:root and get `mtime`; a directory that gains or loses
 * an entry gets `mtime` too, as on disk. A file written through (`/etc/hosts`) keeps its owner.
 * The image root gains owner write permission when it lacks it, as Apptainer adds it before
 * writing. A path that cannot be reached (a link out of a missing directory, a loop) is left
 * alone for `keep`/`write-through` entries; `.singularity.d` entries are always written, through
 * a literal path when resolution fails.
 *
 * `tree` is the root directory, or an `ImageTree` whose `nextInode` is then used and advanced;
 * given a bare root, new inode numbers start above the highest one in it.
 *
 * Not atomic: on a store error the tree holds the entries applied so far.
 */
export async function applyApptainerFiles(
  tree: DirNode | ImageTree,
  files: readonly ApptainerFile[],
  store: ContentStore,
  mtime: number,
): Promise<void> {
  const root = "root" in tree ? tree.root : tree;
  const nextInode = "root" in tree ? tree.nextInode : maxInode(root) + 1;
  if ((root.mode & 0o200) === 0) root.mode |= 0o200;
  const ctx: Ctx = { store, mtime, nextInode, contents: new Map() };
  try {
    for (const file of files) await applyOne(root, file, ctx);
  } finally {
    if ("root" in tree) tree.nextInode = ctx.nextInode;
  }
}

interface Ctx {
  store: ContentStore;
  mtime: number;
  nextInode: number;
  /** Stored contents by text, so identical small files are put once. */
  contents: Map<string, Promise<FileContent>>;
}

async function applyOne(root: DirNode, file: ApptainerFile, ctx: Ctx): Promise<void> {
  const makeDir = (parent: DirNode): DirNode => {
    touch(parent, ctx);
    return newDir(0o755, ctx);
  };
  const mustWin = file.path === SINGULARITY_D || file.path.startsWith(`${SINGULARITY_D}/`);
  // Writing through a link opens the target: its directory must exist, nothing is created for it.
  const writeThrough = file.onExisting === "write-through";
  const at =
    locate(root, file.path, writeThrough ? { followFinal: true } : { followFinal: false, makeDir }) ??
    (mustWin ? locateLiteral(root, file.path, makeDir) : undefined);
  if (!at) return;
  const existing = at.node;
  switch (file.onExisting) {
    case "keep":
      if (existing) return;
      break;
    case "keep-unless-symlink":
      if (existing && existing.type !== "symlink") return;
      break;
    case "write-through":
      if (existing && existing.type !== "file") return;
      break;
    case "move-to-history":
      if (existing) moveToHistory(root, at, ctx, makeDir);
      break;
    case "replace":
      break;
  }
  const node = await buildNode(file, ctx);
  // Rewritten in place, so the owner stays. The inode is fresh: other links of a hardlink group
  // keep their content, where Apptainer's truncation would empty them too (not worth a tree walk).
  if (writeThrough && existing) {
    node.uid = existing.uid;
    node.gid = existing.gid;
  }
  put(at, node, ctx);
}

/** Apptainer keeps earlier definitions as `bootstrap_history/Apptainer<N>`, N counting from 0. */
function moveToHistory(root: DirNode, at: Located, ctx: Ctx, makeDir: (parent: DirNode) => DirNode): void {
  const old = at.node as TreeNode;
  at.parent.children.delete(at.name);
  touch(at.parent, ctx);
  const history =
    locate(root, `${SINGULARITY_D}/bootstrap_history`, { followFinal: true, makeDir }) ??
    locateLiteral(root, `${SINGULARITY_D}/bootstrap_history`, makeDir);
  if (!history) return;
  let dir = history.node;
  if (dir?.type !== "dir") {
    dir = newDir(0o755, ctx);
    put(history, dir, ctx);
  }
  dir.children.set(`Apptainer${dir.children.size}`, old);
  touch(dir, ctx);
}

async function buildNode(file: ApptainerFile, ctx: Ctx): Promise<TreeNode> {
  const meta = { mode: file.mode & 0o7777, uid: 0, gid: 0, mtime: ctx.mtime, mtimeNs: 0 };
  switch (file.type) {
    case "dir":
      return newDir(file.mode, ctx);
    case "symlink":
      return { ...meta, type: "symlink", target: file.target ?? "" };
    case "file": {
      const node: FileNode = { ...meta, type: "file", content: await storeContent(file.content ?? "", ctx), inode: ctx.nextInode++ };
      return node;
    }
  }
}

function storeContent(content: string | Buffer, ctx: Ctx): Promise<FileContent> {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  const key = bytes.toString("base64");
  let stored = ctx.contents.get(key);
  if (!stored) {
    stored = ctx.store.putFile(Readable.from([bytes]));
    ctx.contents.set(key, stored);
  }
  return stored;
}

/** A directory's mtime changes when it gains an entry, not when one is rewritten in place. */
function put(at: Located, node: TreeNode, ctx: Ctx): void {
  if (!at.parent.children.has(at.name)) touch(at.parent, ctx);
  at.parent.children.set(at.name, node);
}

function touch(dir: DirNode, ctx: Ctx): void {
  dir.mtime = ctx.mtime;
  dir.mtimeNs = 0;
}

function newDir(mode: number, ctx: Ctx): DirNode {
  return { type: "dir", mode: mode & 0o7777, uid: 0, gid: 0, mtime: ctx.mtime, mtimeNs: 0, children: new Map() };
}

/** Highest inode number in the tree, so new files get numbers of their own. */
function maxInode(root: DirNode): number {
  let max = 0;
  const pending: DirNode[] = [root];
  for (let dir = pending.pop(); dir; dir = pending.pop()) {
    for (const child of dir.children.values()) {
      if (child.type === "dir") pending.push(child);
      else if (child.type === "file" && child.inode > max) max = child.inode;
    }
  }
  return max;
}
