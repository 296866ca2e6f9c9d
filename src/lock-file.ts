import { link, open, readFile, rename, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { debrisName } from "./debris.js";
import { describeError, RepositoryError, RepositoryLockedError } from "./errors.js";
import { silentLogger, warn, type Logger } from "./logger.js";

/**
 * An exclusive lock file, so two publishers on one stratum 0 never interleave. It holds
 * `<pid> <host> <ISO time taken>` and is never seen half-written: the line goes to a hidden temp
 * file first (`.cvmfs-lock.<pid>.<host tag>.<…>`, removed whatever happens) that is then
 * hard-linked to the lock name, which fails with EEXIST when the lock is taken. A lock is stale,
 * and taken over with a warning, when its process is gone (this host, pid not alive, or this very
 * process without holding it) or, from another host, when it is older than `staleAfterMs` (the
 * longest a lease may live: nothing publishes under one lock for longer).
 */

/** Lock files this process holds right now (a same-pid lock not listed here is a leftover). */
const held = new Set<string>();

/** Default age after which another host's lock is stale: the gateway's default `max_lease_time`. */
const STALE_AFTER_MS = 7200_000;
/** An unreadable lock (a writer of an older version died between create and write) is stale after this. */
const UNREADABLE_STALE_MS = 10_000;

/** A held lock; `release()` removes the lock file. */
export interface LockHandle {
  release(): Promise<void>;
}

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** How long to wait for another publisher (default 60 s); then RepositoryLockedError. */
  timeoutMs?: number;
  /** Poll interval while waiting (default 100 ms). */
  pollMs?: number;
  /** Age after which another host's lock is stale (default 2 h). */
  staleAfterMs?: number;
  /** Hears about stale locks taken over. */
  logger?: Logger;
}

/**
 * Take the lock at `path`, polling until `timeoutMs` has passed; then RepositoryLockedError naming
 * the holder. A failure to write the lock (a full disk, a refused permission) is a RepositoryError
 * naming its cause, and leaves no lock file behind.
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<LockHandle> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const logger = opts.logger ?? silentLogger;
  for (;;) {
    const mine = await tryCreate(path);
    if (mine !== undefined) {
      held.add(path);
      return {
        async release() {
          held.delete(path);
          // Only our own lock: never one another publisher took over meanwhile.
          if ((await readFile(path, "utf8").catch(() => "")) === mine) await rm(path, { force: true });
        },
      };
    }
    const owner = await readFile(path, "utf8").catch(() => "");
    const why = await staleness(path, owner, opts.staleAfterMs ?? STALE_AFTER_MS);
    if (why !== undefined) {
      if (await takeOver(path, owner)) {
        warn(logger, "stratum0.stale_lock", `took over the stale lock ${path} (${owner.trim() || "empty"}): ${why}`, { path });
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new RepositoryLockedError(`stratum 0 is locked by another publisher (${owner.trim() || "unknown"}): ${path}`);
    }
    await sleep(opts.pollMs ?? 100);
  }
}

/** Write the lock line to a temp file and link it in; returns the line, or undefined when the lock is taken. */
async function tryCreate(path: string): Promise<string | undefined> {
  const tmp = join(dirname(path), `.${debrisName("cvmfs-lock")}`);
  const line = `${process.pid} ${hostname()} ${new Date().toISOString()}\n`;
  try {
    const fh = await open(tmp, "wx", 0o644);
    try {
      await fh.writeFile(line);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await link(tmp, path);
    return line;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw new RepositoryError(`create lock ${path}: ${describeError(err)}`, { cause: err });
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Why the lock holding `owner` is stale, or undefined while it is live. */
async function staleness(path: string, owner: string, staleAfterMs: number): Promise<string | undefined> {
  const m = /^(\d+) (\S+)(?: (\S+))?/.exec(owner);
  if (!m) {
    const st = await stat(path).catch(() => null);
    return st !== null && Date.now() - st.mtimeMs > UNREADABLE_STALE_MS ? "unreadable and old" : undefined;
  }
  const pid = Number(m[1]);
  if (m[2] !== hostname()) {
    const taken = m[3] !== undefined ? Date.parse(m[3]) : Number.NaN;
    const since = Number.isNaN(taken) ? ((await stat(path).catch(() => null))?.mtimeMs ?? Date.now()) : taken;
    const age = Date.now() - since;
    return age > staleAfterMs ? `held by host ${m[2]} for ${Math.round(age / 60_000)} min, longer than any lease` : undefined;
  }
  if (pid === process.pid) return held.has(path) ? undefined : "left by this process";
  try {
    process.kill(pid, 0);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH" ? `process ${pid} is gone` : undefined;
  }
}

/**
 * Remove a stale lock, unless another publisher replaced it meanwhile: the lock is renamed
 * aside (atomic), and put back when what was moved is not the stale lock that was judged.
 */
async function takeOver(path: string, judged: string): Promise<boolean> {
  const aside = join(dirname(path), `.${debrisName("cvmfs-lock-stale")}`);
  try {
    await rename(path, aside);
  } catch {
    return false; // gone already: someone else took it over
  }
  try {
    const moved = await readFile(aside, "utf8").catch(() => "");
    if (moved === judged) return true;
    await link(aside, path).catch(() => undefined);
    return false;
  } finally {
    await rm(aside, { force: true });
  }
}
