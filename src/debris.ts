/**
 * Names for temporary files and directories that say who made them, and the sweep that removes
 * what a killed run left behind. A process killed hard (SIGKILL, out of memory, power loss)
 * cannot clean up after itself; the next run can, but must never take the temp files of a run
 * that is still going, here or on another host sharing the directory. A name
 * `<what>.<pid>.<host tag>.<unique>` lets the sweep prove its maker is gone: same host (the tag
 * is the first 8 hex digits of the SHA-1 of the host name) and no process with that pid. Anything
 * it cannot prove dead is removed only once it has not changed for a safe age. A leaf: imports
 * nothing of the tool.
 */
import { createHash, randomBytes } from "node:crypto";
import { lstat, readdir, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";

/** Leftovers whose maker cannot be proven dead are removed after this long without change. */
export const DEBRIS_SAFE_AGE_MS = 24 * 3600_000;

const NAME = /^\.?[a-z0-9_-]+\.(\d+)\.([0-9a-f]{8})\.[A-Za-z0-9_-]+$/;

/** This host's tag in debris names: short, and free of the dots and dashes a host name may hold. */
export function hostTag(host: string = hostname()): string {
  return createHash("sha1").update(host).digest("hex").slice(0, 8);
}

/**
 * `<what>.<pid>.<host tag>.`: the start of a debris name, for `mkdtemp` (which appends six
 * characters). `what` keeps lowercase letters, digits, `_` and `-`; anything else becomes `-`.
 */
export function debrisPrefix(what: string): string {
  return `${what.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").slice(0, 40) || "tmp"}.${process.pid}.${hostTag()}.`;
}

/** A fresh, unique debris name for `what` (see {@link debrisPrefix}); a leading `.` may be added to hide it. */
export function debrisName(what: string): string {
  return `${debrisPrefix(what)}${randomBytes(6).toString("hex")}`;
}

/** The maker of a debris name, or undefined for any other name. */
export function debrisOwner(name: string): { pid: number; hostTag: string } | undefined {
  const m = NAME.exec(name);
  return m ? { pid: Number(m[1]), hostTag: m[2] as string } : undefined;
}

/** Whether the process that made `name` is provably gone: this host, and no such pid. */
export function makerIsGone(name: string): boolean {
  const owner = debrisOwner(name);
  if (!owner || owner.hostTag !== hostTag() || owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    // EPERM: the process exists (another user's); only ESRCH proves it is gone.
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Options of {@link sweepDebris}. */
export interface SweepOptions {
  /** Only names this accepts are considered (default: all). */
  match?: (name: string) => boolean;
  /** Remove after this long without change when the maker cannot be proven gone. */
  safeAgeMs?: number;
  now?: number;
}

/**
 * Remove the entries of `dir` that are debris of dead runs: a debris name whose maker is gone
 * (see {@link makerIsGone}), or anything unchanged (mtime) for `safeAgeMs`. Entries of live or
 * unknown makers stay; a missing `dir` is fine. Never throws: a sweep is housekeeping, and a
 * failure to remove one leftover must not fail the run that found it. Returns what was removed.
 */
export async function sweepDebris(dir: string, opts: SweepOptions = {}): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const now = opts.now ?? Date.now();
  const removed: string[] = [];
  for (const name of names) {
    if (opts.match && !opts.match(name)) continue;
    const path = join(dir, name);
    let dead = makerIsGone(name);
    if (!dead) {
      const st = await lstat(path).catch(() => null);
      dead = st !== null && now - st.mtimeMs > (opts.safeAgeMs ?? DEBRIS_SAFE_AGE_MS);
    }
    if (!dead) continue;
    try {
      await rm(path, { recursive: true, force: true });
      removed.push(name);
    } catch {
      // left for the next sweep
    }
  }
  return removed;
}

let tempSwept: Promise<string[]> | undefined;

/**
 * Once per process: sweep this tool's leftovers from the OS temp directory, i.e. entries named
 * `cvmfs-…` that are debris names of dead makers, or the older unmarked names
 * (`cvmfs-s0-catalogs-XXXXXX`, …) once past the safe age. Nothing else there is touched.
 */
export function sweepTempDirOnce(): Promise<string[]> {
  tempSwept ??= sweepDebris(tmpdir(), {
    match: (name) => name.startsWith("cvmfs-") && (debrisOwner(name) !== undefined || /^cvmfs-(s0-catalogs|catalogs|verify|verify-h|gw-commit)-[A-Za-z0-9]{6}$/.test(name)),
  });
  return tempSwept;
}
