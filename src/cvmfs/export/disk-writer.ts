import { createWriteStream } from "node:fs";
import { chmod, lchown, link, lutimes, mkdir, symlink } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { execa } from "execa";
import { ConfigError } from "../../errors.js";
import { formatSetfattrScript } from "./setfattr-script.js";

/**
 * The filesystem calls an export makes, behind one narrow port (umoci's `fseval` idea). Every
 * create is exclusive (`wx`, mkdir, symlink, link, mknod all fail on an existing name), so a
 * repository that names one path twice, or a name laid over a link made earlier, fails instead
 * of writing through a symlink. Node has no mknod(2) or setxattr(2): devices go through
 * coreutils' `mknod` and attributes through attr's `setfattr --restore`, both plain programs.
 */
export interface DiskWriter {
  mkdir(path: string): Promise<void>;
  writeFile(path: string, body: Readable): Promise<void>;
  symlink(path: string, target: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  /** A fifo (`p`), character (`c`) or block (`b`) device. */
  mknod(path: string, type: "p" | "c" | "b", mode: number, major: number, minor: number): Promise<void>;
  lchown(path: string, uid: number, gid: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  lutimes(path: string, mtime: number, mtimeNs: number): Promise<void>;
  /** Sets every attribute of every path (symlinks themselves, not their targets), in one process. */
  setXattrs(items: Array<{ path: string; xattrs: Record<string, Buffer> }>): Promise<void>;
}

/** The real filesystem. */
export const nodeDiskWriter: DiskWriter = {
  mkdir: async (path) => void (await mkdir(path, { mode: 0o700 })),
  writeFile: (path, body) => pipeline(body, createWriteStream(path, { flags: "wx", mode: 0o600 })),
  symlink: (path, target) => symlink(target, path),
  link: (existing, path) => link(existing, path),
  async mknod(path, type, mode, major, minor) {
    const args = ["-m", (mode & 0o7777).toString(8).padStart(4, "0"), "--", path, type];
    if (type !== "p") args.push(String(major), String(minor));
    await execa("mknod", args);
  },
  lchown: (path, uid, gid) => lchown(path, uid, gid),
  chmod: (path, mode) => chmod(path, mode & 0o7777),
  // Seconds with the nanoseconds as a fraction: as close as a double gets (about a microsecond).
  lutimes: (path, mtime, mtimeNs) => lutimes(path, mtime + mtimeNs / 1e9, mtime + mtimeNs / 1e9),
  async setXattrs(items) {
    const script = formatSetfattrScript(items);
    if (script === "") return;
    try {
      await execa("setfattr", ["-h", "--restore=-"], { input: script });
    } catch (cause) {
      if ((cause as { code?: string }).code === "ENOENT") {
        throw new ConfigError("export writes extended attributes with setfattr, which is not installed (Debian/Ubuntu: apt-get install attr)", { cause });
      }
      throw cause;
    }
  },
};
