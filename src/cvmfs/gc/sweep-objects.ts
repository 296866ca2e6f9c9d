import { randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import pLimit from "p-limit";
import { RepositoryError } from "../../errors.js";
import { parseHashString } from "../objects/hash.js";

/**
 * The sweep half of garbage collection: every object file under `data/00`…`data/ff` that is
 * not in the reachable set goes. `data/txn` (files being written, the reflog backup of a
 * publish) and names that are not object names are never touched.
 */
export interface SweepOptions {
  /**
   * Objects modified at or after this time (ms since the epoch, see {@link filesystemNow}) stay:
   * they were written while the collection ran, by a writer that has not published yet.
   */
  protectFrom: number;
  /** Count what would go, delete nothing. */
  dryRun: boolean;
  /** Called after each deletion (tests stop the process there). */
  onDelete?: (key: string) => void | Promise<void>;
  signal?: AbortSignal;
  /** Deletions in flight at once (default 8). */
  concurrency?: number;
}

export interface SweepResult {
  /** Reachable objects present in `data/`. */
  kept: number;
  /** Objects deleted (or, in a dry run, that would be). */
  deleted: number;
  /** Their stored (compressed) bytes. */
  deletedBytes: number;
  /** Unreachable objects left because they are newer than `protectFrom`. */
  recent: number;
}

/**
 * The stratum 0 filesystem's idea of now: the mtime of a file written in `data/txn` this
 * instant. Compared with object mtimes it is immune to a coarse timestamp granularity and to the
 * skew of a network filesystem's server clock, which the process clock is not.
 */
export async function filesystemNow(dir: string): Promise<number> {
  const txn = join(dir, "data", "txn");
  const file = join(txn, `.gc-clock.${process.pid}.${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(txn, { recursive: true });
    await writeFile(file, "");
    return (await stat(file)).mtimeMs;
  } catch (cause) {
    throw new RepositoryError(`write ${file}`, { cause });
  } finally {
    await rm(file, { force: true });
  }
}

function isObjectName(key: string): boolean {
  try {
    parseHashString(key);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sweep the stratum 0 at `dir` against `reachable` (keys as `markReachable` makes them), one
 * `data/xx` directory at a time, so memory holds one directory listing. Safe to stop at any
 * point: each deletion removes an object nothing kept refers to.
 */
export async function sweepObjects(dir: string, reachable: ReadonlySet<string>, opts: SweepOptions): Promise<SweepResult> {
  const result: SweepResult = { kept: 0, deleted: 0, deletedBytes: 0, recent: 0 };
  const data = join(dir, "data");
  const limit = pLimit(opts.concurrency ?? 8);
  let prefixes: string[];
  try {
    prefixes = (await readdir(data)).filter((d) => /^[0-9a-f]{2}$/.test(d)).sort();
  } catch (cause) {
    throw new RepositoryError(`list ${data}`, { cause });
  }
  for (const prefix of prefixes) {
    opts.signal?.throwIfAborted();
    const names = await readdir(join(data, prefix)).catch((cause: unknown) => {
      throw new RepositoryError(`list ${join(data, prefix)}`, { cause });
    });
    await Promise.all(
      names.map((name) =>
        limit(async () => {
          const key = prefix + name;
          if (reachable.has(key)) {
            result.kept++;
            return;
          }
          if (!isObjectName(key)) return;
          opts.signal?.throwIfAborted();
          const path = join(data, prefix, name);
          const st = await lstat(path).catch(() => null);
          if (st === null || !st.isFile()) return;
          if (st.mtimeMs >= opts.protectFrom) {
            result.recent++;
            return;
          }
          if (!opts.dryRun) {
            try {
              await unlink(path);
            } catch (cause) {
              if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
              throw new RepositoryError(`delete ${path}`, { cause });
            }
          }
          result.deleted++;
          result.deletedBytes += st.size;
          if (!opts.dryRun) await opts.onDelete?.(key);
        }),
      ),
    );
  }
  return result;
}
