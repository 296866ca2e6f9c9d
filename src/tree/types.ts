import type { FileContent } from "../content/content-store.js";

/**
 * The image tree: the flattened filesystem of one image, as metadata only. File bytes are in the
 * content store and referenced by `content`. Paths are absolute inside the image root ("/",
 * "/etc/passwd"); the root is a root of its own (chroot semantics).
 */

/** Metadata every node has, exactly as the layer's tar says (the real owners, not the runner's). */
export interface NodeMeta {
  /** Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000); no type bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time: whole seconds and the nanosecond part. */
  mtime: number;
  mtimeNs: number;
  /** Extended attributes from pax `SCHILY.xattr.*` / `LIBARCHIVE.xattr.*`, sorted by key when written. */
  xattrs?: Record<string, Buffer>;
}

export interface DirNode extends NodeMeta {
  type: "dir";
  children: Map<string, TreeNode>;
}

export interface FileNode extends NodeMeta {
  type: "file";
  content: FileContent;
  /**
   * Hardlink group: files that are hardlinks of each other share one `inode` number and one
   * `content`. Unique per tree; a file that is not hard-linked has an inode of its own.
   */
  inode: number;
}

export interface SymlinkNode extends NodeMeta {
  type: "symlink";
  /** The target exactly as the tar says (not resolved, not rewritten). */
  target: string;
}

/** fifos and devices: kept as metadata, never created on disk by an unprivileged run. */
export interface SpecialNode extends NodeMeta {
  type: "fifo" | "char" | "block" | "socket";
  devMajor: number;
  devMinor: number;
}

export type TreeNode = DirNode | FileNode | SymlinkNode | SpecialNode;

/** File type bits for st_mode, as CVMFS catalog rows and stat(2) carry them. */
export const S_IFMT = 0o170000;
export const TypeBits: Record<TreeNode["type"], number> = {
  dir: 0o040000,
  file: 0o100000,
  symlink: 0o120000,
  fifo: 0o010000,
  char: 0o020000,
  block: 0o060000,
  socket: 0o140000,
};

/** Full st_mode (type bits | permission bits) of a node. */
export function stMode(node: TreeNode): number {
  return TypeBits[node.type] | (node.mode & 0o7777);
}
