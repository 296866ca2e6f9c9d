import { chmodSync, constants, linkSync, lutimesSync, mkdirSync, symlinkSync, unlinkSync, utimesSync } from "node:fs";
import { copyFile, link, lstat, mkdir, open, readdir } from "node:fs/promises";
import { resolve } from "node:path";
import pLimit from "p-limit";
import { AbortedError, ConfigError, RepositoryError } from "../errors.js";
import { debug, silentLogger, type Logger } from "../logger.js";
import type { ContentStore } from "../content/content-store.js";
import type { DirNode, FileNode, NodeMeta } from "../tree/types.js";
import { walkTree } from "../tree/image-tree.js";
import { assembleSidecar, sidecarPath, writeSidecar } from "./sidecar.js";
import { hasPlainObjects } from "./materialise-plain-store.js";
import { hasStagedObjects } from "./staging-store.js";

export interface MaterialiseOptions {
  /**
   * Where file bytes come from: `store.readFile`; a kernel copy of a `PlainContentStore` object;
   * or a `StagingContentStore` object moved into place (its objects are used up; copied instead
   * when the store's directory is on another filesystem than the sandbox).
   */
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
 * and sockets are not created. Every name is made with mkdir/O_CREAT|O_EXCL|O_NOFOLLOW/symlink/
 * link under a directory this run created itself, so nothing that already exists (a symlink
 * least of all) can redirect a write outside `dir`; `walkTree` refuses names that are not single
 * path components, so a name cannot reach through a symlink the tree itself made. mtimes are set
 * after the contents, deepest directories first. Not atomic: on error `dir` holds what was
 * written so far and no sidecar (`convert` builds beside the target and renames, see
 * sandbox-place.ts).
 */
export async function materialiseTree(root: DirNode, dir: string, options: MaterialiseOptions): Promise<MaterialiseStats> {
  const logger = options.logger ?? silentLogger;
  const top = resolve(dir);
  await prepareSandboxDir(top);
  const stats: MaterialiseStats = { dirs: 1, files: 0, hardlinks: 0, symlinks: 0, specials: 0, bytes: 0, sidecar: sidecarPath(top) };
  const store = options.store;
  const limit = pLimit(options.concurrency ?? 16);
  // Where each inode's first name went: a path once it is complete, a promise while it is written.
  const written = new Map<number, string | Promise<string>>();
  // Staged objects already placed, by staging name: where to copy them from for another file.
  const moved = new Map<string, string>();
  // Set once a move gives EXDEV (sandbox and staging directory on different filesystems).
  let crossDevice = false;
  const writes: Promise<unknown>[] = [];
  const dirs: Array<[string, DirNode]> = [[top, root]];
  let failure: unknown;
  const track = <T>(p: Promise<T>): Promise<T> => {
    p.catch((err: unknown) => void (failure ??= err));
    writes.push(p);
    return p;
  };

  // Names, links and moves are made with synchronous calls: each is a few microseconds of
  // kernel work, where a thread-pool round trip costs several times that on the main thread
  // (30,000 staged files: 0.12 s against 1.2 s). Only byte copies and streamed writes go to
  // the pool. The walk yields to the event loop every few milliseconds all the same, so
  // progress, signals and the pool's completions are not held up.
  let sliceStart = performance.now();
  try {
    for (const [path, node] of walkTree(root)) {
      if (failure !== undefined) break;
      if (performance.now() - sliceStart > SLICE_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
      if (options.signal?.aborted) throw new AbortedError(`materialise ${top}: aborted`);
      if (path === "/") continue;
      const onDisk = top + path;
      switch (node.type) {
        case "dir":
          mkdirSync(onDisk, { mode: 0o700 });
          dirs.push([onDisk, node]);
          stats.dirs++;
          break;
        case "file": {
          const first = written.get(node.inode);
          if (first !== undefined) {
            stats.hardlinks++;
            if (typeof first === "string") linkSync(first, onDisk);
            else track(first.then((firstPath) => link(firstPath, onDisk)));
            break;
          }
          stats.files++;
          stats.bytes += node.content.size;
          const staged = hasStagedObjects(store) ? node.content.hash : null;
          if (hasStagedObjects(store) && staged !== null) {
            // The first file with these bytes takes the staged object; a later one, a separate
            // file with the same bytes, copies it from where the first now is.
            const source = moved.get(staged);
            if (source === undefined) {
              const object = store.objectPath(staged, "");
              if (!crossDevice && moveInto(object, onDisk, node)) {
                moved.set(staged, onDisk);
                written.set(node.inode, onDisk);
                break;
              }
              // Another filesystem: every staged object is copied, by the thread pool.
              crossDevice = true;
              moved.set(staged, object);
              written.set(node.inode, track(limit(() => copyInto(object, onDisk, node))));
            } else {
              written.set(node.inode, track(limit(() => copyInto(source, onDisk, node))));
            }
            break;
          }
          written.set(node.inode, track(limit(() => writeFile(onDisk, node, store))));
          break;
        }
        case "symlink":
          symlinkSync(node.target, onDisk);
          lutimesSync(onDisk, ...times(node));
          stats.symlinks++;
          break;
        default:
          stats.specials++;
          debug(logger, "sandbox.special", `${path}: ${node.type} recorded in the sidecar only`, { path, type: node.type });
      }
    }
  } catch (err) {
    failure ??= err;
  }
  await Promise.allSettled(writes);
  if (failure !== undefined) {
    throw failure instanceof Error && "code" in failure && typeof failure.code === "string" && failure.code.startsWith("E_")
      ? failure
      : new RepositoryError(`materialise ${top}: ${failure instanceof Error ? failure.message : String(failure)}`, { cause: failure });
  }
  // Children change a directory's mtime: set it (and the final mode) deepest first, at the end.
  for (const [path, node] of dirs.reverse()) {
    chmodSync(path, (node.mode | 0o700) & 0o7777);
    utimesSync(path, ...times(node));
  }
  await writeSidecar(stats.sidecar, assembleSidecar(root, options.image));
  return stats;
}

/** Longest stretch of synchronous file-system calls before the walk lets other work run. */
const SLICE_MS = 10;

/**
 * Make sure `top` can become a sandbox: created (with its parents) when missing, accepted when it
 * is an empty directory, refused otherwise with a `ConfigError`.
 */
async function prepareSandboxDir(top: string): Promise<void> {
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

/**
 * Move a staged object to `path`, with the node's mode and mtime set first (they belong to the
 * inode, which a new name keeps). The staged file is this run's own, in its own directory, so
 * chmod and utimes by name are safe there. The move is link(2) then unlink: like O_EXCL, link
 * fails on a name that exists and never follows a symlink in its last component. False when the
 * sandbox is on another filesystem than the staging directory (EXDEV): the caller copies then.
 */
function moveInto(staged: string, path: string, node: FileNode): boolean {
  chmodSync(staged, (node.mode | 0o600) & 0o7777);
  utimesSync(staged, ...times(node));
  try {
    linkSync(staged, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EXDEV") return false;
    throw err;
  }
  unlinkSync(staged);
  return true;
}

/**
 * Copy a finished file to `path` and give it `node`'s mode and mtime. The kernel copies it,
 * sharing blocks where the filesystem can (a reflink on btrfs or XFS, a plain copy elsewhere).
 * COPYFILE_EXCL opens the destination with O_CREAT|O_EXCL, which never follows a symlink; the
 * handle below refuses one too.
 */
async function copyInto(source: string, path: string, node: FileNode): Promise<string> {
  await copyFile(source, path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  const fh = await open(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    await fh.chmod((node.mode | 0o600) & 0o7777);
    await fh.utimes(...times(node));
  } finally {
    await fh.close();
  }
  return path;
}

async function writeFile(path: string, node: FileNode, store: ContentStore): Promise<string> {
  const c = node.content;
  // The object is the file.
  if (hasPlainObjects(store) && c.hash !== null && !c.chunks?.length) return copyInto(store.objectPath(c.hash, ""), path, node);
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
