import { mkdir, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import pLimit from "p-limit";
import { ConfigError, UnsafePathError } from "../../errors.js";
import { info, silentLogger, warn, type Logger } from "../../logger.js";
import { isSingleComponent } from "../../tree/path-safety.js";
import { catalogPath } from "../catalog/md5-path.js";
import type { RepositoryEntry, RepositoryReader } from "../repository/repository-reader.js";
import { nodeDiskWriter, type DiskWriter } from "./disk-writer.js";

export interface ExportOptions {
  logger?: Logger;
  signal?: AbortSignal;
  /**
   * Whether to do what only root may: owners, devices, `trusted.*`/`security.*` attributes.
   * Chosen once for the whole export (default: whether this process runs as root); without it
   * those are skipped and counted, with one warning at the end.
   */
  privileged?: boolean;
  /** The filesystem port (tests give a recording one). */
  disk?: DiskWriter;
  /** File bodies written at once (default 8). */
  concurrency?: number;
}

export interface ExportStats {
  /** The repository path exported (after following a symlink named as the path itself). */
  path: string;
  dirs: number;
  files: number;
  /** Names written as hardlinks of a file written before them (same catalog hardlink group). */
  hardlinks: number;
  symlinks: number;
  /** fifos and devices made. */
  specials: number;
  /** Attributes written. */
  xattrs: number;
  bytes: number;
  /** What needed root and was not done (all zero when privileged); sockets cannot be made at all. */
  skipped: { owners: number; devices: number; xattrs: number; sockets: number };
}

/** Attributes an unprivileged process cannot set (trusted.* needs CAP_SYS_ADMIN, security.* CAP_SETFCAP or an LSM). */
const PRIVILEGED_XATTR = /^(trusted|security)\./;

/**
 * A name written, with what is still to be applied once every name exists: only these fields,
 * not the whole catalog entry (with its raw row), since an image may hold a million names.
 */
interface Written {
  dst: string;
  entry: Pick<RepositoryEntry, "kind" | "mode" | "uid" | "gid" | "mtime" | "mtimeNs" | "xattrs">;
}

/**
 * Writes the repository subtree at `repoPath` to `dest` exactly as the repository reader reads
 * it, nested catalogs followed: directories, regular files (bytes hash-checked as they stream),
 * symlinks (targets as stored, never followed), hardlinks (rows of one catalog's hardlink group
 * become one inode), fifos and devices, extended attributes, owners, modes and mtimes. `dest`
 * must be absent or an empty directory. When `repoPath` itself is a symlink (a tag name), the
 * directory it leads to is exported. Order matters and is fixed: every name first (private
 * modes), then owners (a chown clears setuid bits and file capabilities), attributes, modes,
 * and mtimes last, children before their parents. On error `dest` is left half written.
 * @throws ConfigError for a missing path or a non-empty `dest`; RepositoryError, UnsafePathError
 *   (a name that is not one path component) and I/O errors as they come.
 */
export async function exportRepository(reader: RepositoryReader, repoPath: string, dest: string, options: ExportOptions = {}): Promise<ExportStats> {
  const logger = options.logger ?? silentLogger;
  const disk = options.disk ?? nodeDiskWriter;
  const privileged = options.privileged ?? process.getuid?.() === 0;
  let base = catalogPath(repoPath);
  const top = await reader.lookup(base);
  if (top === null) throw new ConfigError(`${base || "/"} is not in the repository`);
  if (top.kind === "symlink") base = catalogPath(await reader.resolvePath(base));
  await checkDestination(dest);

  const stats: ExportStats = {
    path: base || "/",
    ...{ dirs: 0, files: 0, hardlinks: 0, symlinks: 0, specials: 0, xattrs: 0, bytes: 0 },
    skipped: { owners: 0, devices: 0, xattrs: 0, sockets: 0 },
  };
  info(logger, "export.start", `exporting ${stats.path} to ${dest}`, { path: stats.path, dest });
  const written: Written[] = [];
  const groups = new Map<string, { dst: string; ready: Promise<void> }>();
  const limit = pLimit(options.concurrency ?? 8);
  const bodies: Promise<void>[] = [];
  const uid = process.getuid?.();
  const gid = process.getgid?.();

  try {
    for await (const entry of reader.walk(base)) {
      options.signal?.throwIfAborted();
      const rel = entry.path.slice(base.length);
      if (rel !== "" && !rel.split("/").slice(1).every(isSingleComponent)) {
        throw new UnsafePathError(entry.path, "the catalog holds a name that is not a single path component; refused");
      }
      const dst = rel === "" ? dest : join(dest, rel);
      // Hardlink groups are numbered per catalog.
      const group = entry.kind !== "dir" && entry.hardlinkGroup > 0 ? `${(await reader.catalogFor(entry.path)).hash}:${entry.hardlinkGroup}` : undefined;
      const first = group === undefined ? undefined : groups.get(group);
      if (first !== undefined) {
        await first.ready; // the first name's file exists once its body is written
        await disk.link(first.dst, dst);
        stats.hardlinks++;
        continue;
      }
      const made = await writeName(entry, dst);
      if (made === false) continue;
      if (group !== undefined) groups.set(group, { dst, ready: made.body });
      const { kind, mode, mtime, mtimeNs, xattrs } = entry;
      written.push({ dst, entry: { kind, mode, uid: entry.uid, gid: entry.gid, mtime, mtimeNs, xattrs } });
      if (!privileged && (entry.uid !== uid || entry.gid !== gid)) stats.skipped.owners++;
    }
    await Promise.all(bodies);
  } catch (err) {
    await Promise.allSettled(bodies);
    throw err;
  }

  if (privileged) for (const { dst, entry } of written) await disk.lchown(dst, entry.uid, entry.gid);
  const xattrItems: Array<{ path: string; xattrs: Record<string, Buffer> }> = [];
  for (const { dst, entry } of written) {
    if (!entry.xattrs) continue;
    const kept = Object.entries(entry.xattrs).filter(([k]) => privileged || !PRIVILEGED_XATTR.test(k));
    stats.skipped.xattrs += Object.keys(entry.xattrs).length - kept.length;
    stats.xattrs += kept.length;
    if (kept.length > 0) xattrItems.push({ path: dst, xattrs: Object.fromEntries(kept) });
  }
  await disk.setXattrs(xattrItems);
  // Children before parents: a parent made unsearchable for its owner must not block its children.
  for (const { dst, entry } of [...written].reverse()) {
    if (entry.kind !== "symlink") await disk.chmod(dst, entry.mode);
    await disk.lutimes(dst, entry.mtime, entry.mtimeNs ?? 0);
  }

  const { owners, devices, xattrs, sockets } = stats.skipped;
  if (owners + devices + xattrs + sockets > 0) {
    const why = privileged ? "" : " (they need root)";
    warn(
      logger,
      "export.skipped",
      `${stats.path}: not written${why}: owners of ${owners} entries, ${devices} devices, ${xattrs} extended attributes; ${sockets} sockets (never made)`,
      { path: stats.path, ...stats.skipped },
    );
  }
  info(logger, "export.done", `${stats.path} → ${dest}: ${stats.dirs} dirs, ${stats.files} files, ${stats.symlinks} symlinks, ${stats.hardlinks} hardlinks, ${stats.specials} specials`, { ...stats });
  return stats;

  /**
   * Makes the name: false when it was skipped, else the promise of its body (file bodies stream
   * in the background, a bounded number at once; a promise in an object, or `await` would flatten it).
   */
  async function writeName(entry: RepositoryEntry, dst: string): Promise<{ body: Promise<void> } | false> {
    switch (entry.kind) {
      case "dir":
        if (dst === dest) await disk.mkdir(dst).catch(existingEmptyDest);
        else await disk.mkdir(dst);
        stats.dirs++;
        return NO_BODY;
      case "file": {
        stats.files++;
        stats.bytes += entry.size;
        const body = limit(() => disk.writeFile(dst, reader.readFile(entry.path)));
        body.catch(() => {}); // awaited with the others; a failure must not count as unhandled
        bodies.push(body);
        return { body };
      }
      case "symlink":
        await disk.symlink(dst, entry.symlink);
        stats.symlinks++;
        return NO_BODY;
      default: {
        const type = specialType(entry.mode);
        if (type === "s") {
          stats.skipped.sockets++;
          return false;
        }
        if (type !== "p" && !privileged) {
          stats.skipped.devices++;
          return false;
        }
        const { major, minor } = splitDev(entry.size);
        await disk.mknod(dst, type, entry.mode, major, minor);
        stats.specials++;
        return NO_BODY;
      }
    }
  }
}

/** What `writeName` returns for a name with no body to wait for. */
const NO_BODY = { body: Promise.resolve() };

/** `dest` may exist only as an empty directory: an export never mixes with other files. */
async function checkDestination(dest: string): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const names = await readdir(dest).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw new ConfigError(`export destination ${dest}: ${err.message}`, { cause: err });
  });
  if (names.length > 0) throw new ConfigError(`export destination ${dest} is not empty`);
}

function existingEmptyDest(err: NodeJS.ErrnoException): void {
  if (err.code !== "EEXIST") throw err;
}

/** The special file type of a full st_mode. */
function specialType(mode: number): "p" | "c" | "b" | "s" {
  switch (mode & 0o170000) {
    case 0o010000:
      return "p";
    case 0o020000:
      return "c";
    case 0o060000:
      return "b";
    default:
      return "s";
  }
}

/** glibc `major()`/`minor()` of the dev_t a catalog stores as a device's size (inverse of `makedev`). */
export function splitDev(size: number): { major: number; minor: number } {
  const dev = BigInt(size);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & 0xffffff00n));
  return { major, minor };
}
