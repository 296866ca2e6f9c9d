import type { Database } from "better-sqlite3";
import { CatalogError } from "../../errors.js";
import { Flag } from "./row.js";

/**
 * The 24 statistics counters of a catalog (cvmfs-formats.md §3 "statistics"). `self` counts the
 * rows of this catalog (its root entry and nested mountpoint entries included); `subtree` is the
 * sum of `self + subtree` of every catalog nested below it. A client refuses a catalog that
 * misses any of the 24 rows.
 */

export const COUNTER_NAMES = [
  "regular",
  "symlink",
  "special",
  "dir",
  "nested",
  "chunked",
  "chunks",
  "file_size",
  "chunked_size",
  "xattr",
  "external",
  "external_file_size",
] as const;

export type CounterName = (typeof COUNTER_NAMES)[number];
export type CounterSet = Record<CounterName, number>;
export interface CatalogCounters {
  self: CounterSet;
  subtree: CounterSet;
}

/** A counter set of zeros. */
export function zeroCounterSet(): CounterSet {
  const out = {} as CounterSet;
  for (const n of COUNTER_NAMES) out[n] = 0;
  return out;
}

/** Counters of an empty catalog (no root entry yet). */
export function zeroCounters(): CatalogCounters {
  return { self: zeroCounterSet(), subtree: zeroCounterSet() };
}

/** `into += sign * from`, field by field. */
export function addCounterSet(into: CounterSet, from: CounterSet, sign: 1 | -1 = 1): void {
  for (const n of COUNTER_NAMES) into[n] += sign * from[n];
}

/** `self + subtree`: what a catalog contributes to its parent's `subtree`. */
export function counterTotals(c: CatalogCounters): CounterSet {
  const t = { ...c.self };
  addCounterSet(t, c.subtree);
  return t;
}

/**
 * Accounts one catalog row (as CVMFS's `DeltaCounters::ApplyDelta` does): regular files with
 * their size (chunked and external ones also in their own counters), symlinks, specials,
 * directories, and rows carrying xattrs. Chunk and nested rows are counted by the caller.
 */
export function countRow(set: CounterSet, flags: number, size: number, hasXattr: boolean, delta: 1 | -1 = 1): void {
  if (flags & Flag.Dir) set.dir += delta;
  else if (flags & Flag.Link) set.symlink += delta;
  else if (flags & Flag.Special) set.special += delta;
  else if (flags & Flag.File) {
    set.regular += delta;
    set.file_size += delta * size;
    if (flags & Flag.Chunked) {
      set.chunked += delta;
      set.chunked_size += delta * size;
    }
    if (flags & Flag.External) {
      set.external += delta;
      set.external_file_size += delta * size;
    }
  } else {
    throw new CatalogError(`catalog row with flags ${flags} is neither file, link, special nor directory`);
  }
  if (hasXattr) set.xattr += delta;
}

/** The 24 `(counter, value)` rows, sorted by name as the publisher's map writes them. */
export function counterRows(c: CatalogCounters): Array<[string, number]> {
  const rows: Array<[string, number]> = [];
  for (const n of COUNTER_NAMES) {
    rows.push([`self_${n}`, c.self[n]], [`subtree_${n}`, c.subtree[n]]);
  }
  return rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Reads the 24 counters of a catalog database.
 * @throws CatalogError when one is missing (a client would refuse the catalog too).
 */
export function readCounters(db: Database): CatalogCounters {
  const rows = db.prepare("SELECT counter, value FROM statistics").all() as Array<{ counter: string; value: number }>;
  const byName = new Map(rows.map((r) => [r.counter, Number(r.value)]));
  const c = zeroCounters();
  for (const n of COUNTER_NAMES) {
    for (const scope of ["self", "subtree"] as const) {
      const v = byName.get(`${scope}_${n}`);
      if (v === undefined) throw new CatalogError(`catalog lacks the statistics counter ${scope}_${n}`);
      c[scope][n] = v;
    }
  }
  return c;
}

/**
 * Recounts the `self` counters from the rows themselves: the edited catalogs are recounted
 * rather than patched, so counters that drifted in an older catalog are repaired on the way.
 */
export function recountSelf(db: Database): CounterSet {
  const set = zeroCounterSet();
  const groups = db
    .prepare(
      "SELECT flags, (xattr IS NOT NULL) AS hx, COUNT(*) AS n, TOTAL(size) AS bytes FROM catalog GROUP BY flags, hx",
    )
    .all() as Array<{ flags: number; hx: number; n: number; bytes: number }>;
  for (const g of groups) {
    const one = zeroCounterSet();
    countRow(one, g.flags, 1, g.hx === 1);
    // `one` holds the per-row pattern; scale counts by n and sizes by the group's byte total.
    for (const name of COUNTER_NAMES) {
      const isSize = name === "file_size" || name === "chunked_size" || name === "external_file_size";
      set[name] += isSize ? (one[name] === 0 ? 0 : g.bytes) : one[name] * g.n;
    }
  }
  set.chunks = (db.prepare("SELECT COUNT(*) AS n FROM chunks").get() as { n: number }).n;
  set.nested = (db.prepare("SELECT COUNT(*) AS n FROM nested_catalogs").get() as { n: number }).n;
  return set;
}
