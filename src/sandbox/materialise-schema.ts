import { z } from "zod";

/**
 * The sandbox sidecar file `DIR.meta.json` (see sidecar.ts): the image tree's real metadata,
 * which an unprivileged materialiser cannot put on disk (owners, some mode bits, xattrs, device
 * nodes). Read back by whoever needs the exact tree from a sandbox directory.
 */
export const SidecarEntry = z.object({
  /** Absolute inside the sandbox, `/` for DIR itself. */
  path: z.string(),
  type: z.enum(["dir", "file", "symlink", "fifo", "char", "block", "socket"]),
  /** Permission bits as the image says, setuid/setgid/sticky included (no type bits). */
  mode: z.number().int(),
  uid: z.number().int(),
  gid: z.number().int(),
  mtime: z.number().int(),
  mtimeNs: z.number().int(),
  /** Extended attributes, values base64. */
  xattrs: z.record(z.string(), z.string()).optional(),
  devMajor: z.number().int().optional(),
  devMinor: z.number().int().optional(),
  /** Hardlink group (files only): paths with the same inode are one file. */
  inode: z.number().int().optional(),
  /** False when the node exists only here (device nodes, fifos, sockets are never created). */
  onDisk: z.boolean(),
});
export type SidecarEntry = z.infer<typeof SidecarEntry>;

export const Sidecar = z.object({
  format: z.literal("cvmfs-image-sync/sandbox-meta"),
  version: z.literal(1),
  /** The image reference the sandbox was made from, when known. */
  image: z.string().optional(),
  /** Every node of the tree, parents before children. */
  entries: z.array(SidecarEntry),
});
export type Sidecar = z.infer<typeof Sidecar>;
