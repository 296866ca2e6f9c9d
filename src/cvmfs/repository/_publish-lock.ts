import { open, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { RepositoryError } from "../../errors.js";

/**
 * An exclusive lock file (`O_CREAT|O_EXCL`) holding `<pid> <hostname>`, so two publishers on one
 * stratum 0 never interleave. A lock whose process is gone (same host, pid not alive, or this
 * very process without holding it) is stale and taken over. Locks held by another host are never
 * judged stale: only a timeout ends the wait.
 */

/** Lock files this process holds right now (a same-pid lock not listed here is a leftover). */
const held = new Set<string>();

/** A held lock; `release()` removes the lock file. */
export interface LockHandle {
  release(): Promise<void>;
}

/**
 * Take the lock at `path`, polling every `pollMs` (100) until `timeoutMs` (60 s) has passed;
 * then RepositoryError naming the holder.
 */
export async function acquireLock(path: string, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<LockHandle> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const me = `${process.pid} ${hostname()}\n`;
  for (;;) {
    try {
      const fh = await open(path, "wx", 0o644);
      try {
        await fh.writeFile(me);
      } finally {
        await fh.close();
      }
      held.add(path);
      return {
        async release() {
          held.delete(path);
          await rm(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new RepositoryError(`create lock ${path}`, { cause: err });
    }
    const owner = await readFile(path, "utf8").catch(() => "");
    if (await isStale(path, owner)) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new RepositoryError(`stratum 0 is locked by another publisher (${owner.trim() || "unknown"}): ${path}`);
    }
    await sleep(opts.pollMs ?? 100);
  }
}

async function isStale(path: string, owner: string): Promise<boolean> {
  const m = /^(\d+) (\S+)/.exec(owner);
  if (!m) {
    // Empty: either being written this instant, or its writer died between create and write.
    const st = await stat(path).catch(() => null);
    return st !== null && Date.now() - st.mtimeMs > 10_000;
  }
  const pid = Number(m[1]);
  if (m[2] !== hostname()) return false;
  if (pid === process.pid) return !held.has(path);
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}
