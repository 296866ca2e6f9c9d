import { ConfigError } from "../../errors.js";

/**
 * Which revisions garbage collection keeps (pure). As `cvmfs_server gc`: `-r` keeps a number of
 * revisions, `-t` those newer than a time, and with neither it keeps three days. Here both may
 * be given (their union is kept), and the current revision is always kept. Every publish of
 * this tool adds a history tag, so tags are revisions: the tags of a revision that is not kept
 * leave the history (unlike `cvmfs_server`, which keeps every named tag forever).
 */
export interface RetentionPolicy {
  /** The newest this many revisions (≥ 1; the current one is the first). */
  keepRevisions: number;
  /** Besides, every revision published within this many days (0: none by age). */
  keepDays: number;
}

/** One revision of the repository, as the history and the catalogs' `previous_revision` chain tell. */
export interface RevisionInfo {
  /** Root catalog hash string, no suffix. */
  rootHash: string;
  revision: number;
  /** Unix seconds: the history tag's timestamp, else the root catalog's `last_modified`. */
  timestamp: number;
  /** History tags naming this root (none for a revision only the chain knows). */
  tags: string[];
  /** Whether the root catalog is still in the store; a revision without it is never kept. */
  available: boolean;
}

/** What {@link planRetention} decides: both lists newest first. */
export interface RetentionPlan {
  kept: RevisionInfo[];
  dropped: RevisionInfo[];
}

/** `cvmfs_server gc`'s default when neither a revision count nor a time is given. */
export const DEFAULT_KEEP_DAYS = 3;

/**
 * Fill the defaults as `cvmfs_server gc` does: with neither setting, three days; with only one,
 * that one alone (so `--keep-revisions 1` keeps exactly the current revision). Throws
 * ConfigError for a count below 1 or a negative or non-numeric number of days.
 */
export function resolveRetention(given: { keepRevisions?: number; keepDays?: number }): RetentionPolicy {
  const { keepRevisions, keepDays } = given;
  if (keepRevisions !== undefined && !(Number.isInteger(keepRevisions) && keepRevisions >= 1)) {
    throw new ConfigError(`--keep-revisions must be a whole number ≥ 1 (1 keeps only the current revision), got "${keepRevisions}"`);
  }
  if (keepDays !== undefined && !(Number.isFinite(keepDays) && keepDays >= 0)) {
    throw new ConfigError(`--keep-days must be a number of days ≥ 0, got "${keepDays}"`);
  }
  if (keepRevisions === undefined && keepDays === undefined) return { keepRevisions: 1, keepDays: DEFAULT_KEEP_DAYS };
  return { keepRevisions: keepRevisions ?? 1, keepDays: keepDays ?? 0 };
}

/** Whether the revision at `rank` (0 = newest) published at `timestamp` is kept by the policy. */
export function keptByPolicy(rank: number, timestamp: number, policy: RetentionPolicy, now: Date): boolean {
  if (rank < policy.keepRevisions) return true;
  return policy.keepDays > 0 && timestamp >= now.getTime() / 1000 - policy.keepDays * 86_400;
}

/**
 * Split `revisions` into kept and dropped: the one whose root is `currentRoot` always, and each
 * available revision the policy keeps, ranked newest first by revision number among the
 * available ones.
 */
export function planRetention(revisions: readonly RevisionInfo[], currentRoot: string, policy: RetentionPolicy, now: Date): RetentionPlan {
  const plan: RetentionPlan = { kept: [], dropped: [] };
  let rank = 0;
  for (const r of [...revisions].sort((a, b) => b.revision - a.revision)) {
    const keep = r.rootHash === currentRoot || (r.available && keptByPolicy(rank, r.timestamp, policy, now));
    if (r.available) rank++;
    (keep ? plan.kept : plan.dropped).push(r);
  }
  return plan;
}
