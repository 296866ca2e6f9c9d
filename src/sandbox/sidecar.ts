import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import type { DirNode, TreeNode } from "../tree/types.js";
import { walkTree } from "../tree/image-tree.js";
import { Sidecar, type SidecarEntry } from "./materialise-schema.js";

/**
 * The sidecar of an on-disk sandbox: `DIR.meta.json` beside `DIR` (outside it, so the sandbox
 * holds exactly the image). JSON, format `cvmfs-image-sync/sandbox-meta` version 1 (schema in
 * materialise-schema.ts): one record per node of the image tree, parents first, with the real
 * type, permission bits, owner, group, mtime (seconds + nanoseconds), xattrs (base64),
 * device numbers and hardlink group; `onDisk: false` marks nodes that only exist here. On disk,
 * everything is owned by the runner, directories have at least u+rwx and files u+rw.
 */

/** `DIR.meta.json` for a sandbox at `dir`. */
export function sidecarPath(dir: string): string {
  return `${dir.replace(/\/+$/, "")}.meta.json`;
}

/** Whether the materialiser creates this kind of node on disk. */
export function createdOnDisk(node: TreeNode): boolean {
  return node.type === "dir" || node.type === "file" || node.type === "symlink";
}

/** The sidecar of a tree (pure). */
export function assembleSidecar(root: DirNode, image?: string): Sidecar {
  const entries: SidecarEntry[] = [];
  for (const [path, node] of walkTree(root)) {
    const e: SidecarEntry = {
      path,
      type: node.type,
      mode: node.mode & 0o7777,
      uid: node.uid,
      gid: node.gid,
      mtime: node.mtime,
      mtimeNs: node.mtimeNs,
      onDisk: createdOnDisk(node),
    };
    if (node.xattrs && Object.keys(node.xattrs).length > 0) {
      e.xattrs = Object.fromEntries(
        Object.keys(node.xattrs)
          .sort()
          .map((k) => [k, node.xattrs![k]!.toString("base64")]),
      );
    }
    if (node.type === "char" || node.type === "block" || node.type === "fifo" || node.type === "socket") {
      e.devMajor = node.devMajor;
      e.devMinor = node.devMinor;
    }
    if (node.type === "file") e.inode = node.inode;
    entries.push(e);
  }
  return { format: "cvmfs-image-sync/sandbox-meta", version: 1, ...(image ? { image } : {}), entries };
}

/** Write the sidecar atomically (temporary name, then rename). */
export async function writeSidecar(path: string, sidecar: Sidecar): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(sidecar) + "\n");
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Read and validate a sidecar. */
export async function readSidecar(path: string): Promise<Sidecar> {
  return Sidecar.parse(JSON.parse(await readFile(path, "utf8")));
}
