import { constants } from "node:fs";
import { chmod, copyFile, link, lstat, lutimes, mkdir, open, readdir, symlink, utimes } from "node:fs/promises";
import { resolve } from "node:path";
import pLimit from "p-limit";
import { AbortedError, ConfigError, RepositoryError } from "../errors.js";
import { debug, silentLogger, type Logger } from "../logger.js";
import type { ContentStore } from "../cvmfs/content.js";
import type { DirNode, FileNode, NodeMeta } from "../tree/types.js";
import { walkTree } from "../tree/image-tree.js";
import { assembleSidecar, sidecarPath, writeSidecar } from "./sidecar.js";
import { hasPlainObjects } from "./materialise-plain-store.js";

export interface MaterialiseOptions {
  /** Where file bytes come from: `store.readFile`, or a kernel copy of a `PlainContentStore` object. */
  store: ContentStore;
  logger?: Logger;
  signal?: AbortSignal;
  /** Files written at once (default 16). */
  concurrency?: number;
  /** The image reference, recorded in the sidecar. */
  image?: string;
}

export interface MaterialiseStats {
  dirs: number;
  files: number;
  /** Extra names of hard-linked files (links made with link(2)). */
  hardlinks: number;
  symlinks: number;
  /** Device nodes, fifos and sockets: recorded in the sidecar only. */
  specials: number;
  bytes: number;
  /** Path of the sidecar written beside the sandbox. */
  sidecar: string;
}

/** open(2) flags for a new file: never through an existing name, never through a symlink. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Write an image tree as an Apptainer sandbox directory `dir`, as an ordinary user, and its real
 * metadata to the sidecar `dir.meta.json` (sidecar.ts). `dir` must not exist, or be an empty
 * directory (not a symlink). On disk: directories get the image's mode plus u+rwx and files
 * plus u+rw, so the runner can later write and delete them; owners are the runner's; hardlinks
 * are real hardlinks; symlinks are written as they are and never followed; device nodes, fifos
 * and sockets are not created. Safety does not rest on the tree being sane: every name is made
 * with mkdir/O_CREAT|O_EXCL|O_NOFOLLOW/symlink/link under a directory this run created itself,
 * so nothing that already exists (a symlink least of all) can redirect a write outside `dir`.
 * mtimes are set after the contents, deepest directories last. Not atomic: on error `dir`
 * holds what was written so far and no sidecar.
 */
export async function materialiseTree(root: DirNode, dir: string, options: MaterialiseOptions): Promise<MaterialiseStats> {
  const logger = options.logger ?? silentLogger;
  const top = resolve(dir);
  await prepareTop(top);
  const stats: MaterialiseStats = { dirs: 1, files: 0, hardlinks: 0, symlinks: 0, specials: 0, bytes: 0, sidecar: sidecarPath(top) };
  const limit = pLimit(options.concurrency ?? 16);
  const written = new Map<number, Promise<string>>();
  const writes: Promise<unknown>[] = [];
  const dirs: Array<[string, DirNode]> = [[top, root]];
  let failure: unknown;
  const track = <T>(p: Promise<T>): Promise<T> => {
    p.catch((err: unknown) => void (failure ??= err));
    writes.push(p);
    return p;
  };

  for (const [path, node] of walkTree(root)) {
    if (failure !== undefined) break;
    if (options.signal?.aborted) throw new AbortedError(`materialise ${top}: aborted`);
    if (path === "/") continue;
    const onDisk = top + path;
    switch (node.type) {
      case "dir":
        await mkdir(onDisk, { mode: 0o700 });
        dirs.push([onDisk, node]);
        stats.dirs++;
        break;
      case "file": {
        const first = written.get(node.inode);
        if (first) {
          stats.hardlinks++;
          track(first.then((firstPath) => link(firstPath, onDisk)));
          break;
        }
        stats.files++;
        stats.bytes += node.content.size;
        written.set(node.inode, track(limit(() => writeFile(onDisk, node, options.store))));
        break;
      }
      case "symlink":
        await symlink(node.target, onDisk);
        await lutimes(onDisk, ...times(node));
        stats.symlinks++;
        break;
      default:
        stats.specials++;
        debug(logger, "sandbox.special", `${path}: ${node.type} recorded in the sidecar only`, { path, type: node.type });
    }
  }
  await Promise.allSettled(writes);
  if (failure !== undefined) {
    throw failure instanceof Error && "code" in failure && typeof failure.code === "string" && failure.code.startsWith("E_")
      ? failure
      : new RepositoryError(`materialise ${top}`, { cause: failure });
  }
  // Children change a directory's mtime: set it (and the final mode) deepest first, at the end.
  for (const [path, node] of dirs.reverse()) {
    await chmod(path, (node.mode | 0o700) & 0o7777);
    await utimes(path, ...times(node));
  }
  await writeSidecar(stats.sidecar, assembleSidecar(root, options.image));
  return stats;
}

async function prepareTop(top: string): Promise<void> {
  let st;
  try {
    st = await lstat(top);
  } catch {
    await mkdir(top, { recursive: true, mode: 0o700 });
    return;
  }
  if (!st.isDirectory()) throw new ConfigError(`sandbox ${top} exists and is not a directory`);
  if ((await readdir(top)).length > 0) throw new ConfigError(`sandbox ${top} exists and is not empty`);
}

async function writeFile(path: string, node: FileNode, store: ContentStore): Promise<string> {
  const c = node.content;
  if (hasPlainObjects(store) && c.hash !== null && !c.chunks?.length) {
    // The object is the file: let the kernel copy it, sharing its blocks where the filesystem can
    // (a reflink on btrfs or XFS, a plain copy elsewhere). COPYFILE_EXCL opens the destination
    // with O_CREAT|O_EXCL, which never follows a symlink; the handle below refuses one too.
    await copyFile(store.objectPath(c.hash, ""), path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    const fh = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      await fh.chmod((node.mode | 0o600) & 0o7777);
      await fh.utimes(...times(node));
    } finally {
      await fh.close();
    }
    return path;
  }
  const fh = await open(path, CREATE_FLAGS, 0o600);
  try {
    // Plain writes on the handle: a stream over it would keep the handle referenced past close().
    for await (const chunk of store.readFile(node.content) as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
    }
    await fh.chmod((node.mode | 0o600) & 0o7777);
    await fh.utimes(...times(node));
  } finally {
    await fh.close();
  }
  return path;
}

function times(meta: NodeMeta): [number, number] {
  const t = meta.mtime + meta.mtimeNs / 1e9;
  return [t, t];
}
