import Database from "better-sqlite3";
import { describeError, RepositoryError } from "../../errors.js";

/**
 * The history database (object suffix `H`, cvmfs-formats.md §4): schema 1.0 revision 3 with the
 * `branches`, `tags` and (deprecated, always empty) `recycle_bin` tables of `history_sql.cc`.
 * One tag per publish; property `previous_revision` links to the previous history object, so
 * the chain of history objects can be walked back like the catalogs' `previous_revision`.
 */
export interface HistoryTag {
  name: string;
  /** Root catalog hash string, no suffix. */
  hash: string;
  revision: number;
  /** Unix seconds. */
  timestamp: number;
  channel: number;
  description: string;
  /** Uncompressed root catalog size. */
  size: number;
  branch: string;
}

/** Create an empty history database file at `file` (which must not exist). */
export function createHistory(file: string, fqrn: string): void {
  const db = new Database(file);
  try {
    db.pragma("foreign_keys = ON");
    db.exec(
      "CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));" +
        "CREATE TABLE branches (branch TEXT, parent TEXT, initial_revision INTEGER," +
        "  CONSTRAINT pk_branch PRIMARY KEY (branch), " +
        "  FOREIGN KEY (parent) REFERENCES branches (branch), " +
        "  CHECK ((branch <> '') OR (parent IS NULL)), " +
        "  CHECK ((branch = '') OR (parent IS NOT NULL)));" +
        "INSERT INTO branches (branch, parent, initial_revision) VALUES ('', NULL, 0);" +
        "CREATE TABLE tags (name TEXT, hash TEXT, revision INTEGER, " +
        "  timestamp INTEGER, channel INTEGER, description TEXT, size INTEGER, " +
        "  branch TEXT, CONSTRAINT pk_tags PRIMARY KEY (name), " +
        "  FOREIGN KEY (branch) REFERENCES branches (branch));" +
        "CREATE TABLE recycle_bin (hash TEXT, flags INTEGER, CONSTRAINT pk_hash PRIMARY KEY (hash));",
    );
    const set = db.prepare("INSERT OR REPLACE INTO properties (key, value) VALUES (?, ?)");
    set.run("fqrn", fqrn);
    // cvmfs binds the version as a double and the revision as an integer; the TEXT column keeps "1.0" and "3".
    set.run("schema", 1.0);
    set.run("schema_revision", 3n);
  } finally {
    db.close();
  }
}

/**
 * Add `tag` to the history file and record `previousRevision` (hash of the history object this
 * one replaces). A tag name that exists already is replaced, as `cvmfs_server tag -a` would
 * refuse; publishing picks unique names so this only matters for explicit names.
 */
export function addHistoryTag(file: string, tag: HistoryTag, previousRevision?: string): void {
  const db = new Database(file);
  try {
    db.pragma("foreign_keys = ON");
    db.transaction(() => {
      db.prepare(
        "INSERT OR REPLACE INTO tags (name, hash, revision, timestamp, channel, description, size, branch) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ).run(tag.name, tag.hash, tag.revision, tag.timestamp, tag.channel, tag.description, tag.size, tag.branch);
      if (previousRevision) {
        db.prepare("INSERT OR REPLACE INTO properties (key, value) VALUES ('previous_revision', ?)").run(previousRevision);
      }
    })();
  } catch (cause) {
    throw new RepositoryError(`add tag ${tag.name} to history: ${describeError(cause)}`, { cause });
  } finally {
    db.close();
  }
}

/**
 * What `cvmfs_swissknife check` finds wrong with a history database (swissknife_check.cc,
 * `InspectHistory`), one line each: a branch name it would not accept, a tag on a branch that
 * does not exist or older than its branch's initial revision, and branches no tag uses ("unused,
 * dangling branches stored"; so an empty history, whose default branch has no tag, fails).
 */
export function inspectHistory(file: string): string[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const branches = db.prepare("SELECT branch, initial_revision FROM branches").all() as { branch: string; initial_revision: number }[];
    const tags = db.prepare("SELECT name, revision, branch FROM tags").all() as { name: string; revision: number; branch: string }[];
    const problems: string[] = [];
    const initial = new Map(branches.map((b) => [b.branch, b.initial_revision]));
    // cvmfs's BranchSanitizer: letters, digits and `-_.@/` (the default branch is "").
    for (const b of branches) if (!/^[A-Za-z0-9_.@/-]*$/.test(b.branch)) problems.push(`invalid branch name "${b.branch}"`);
    const used = new Set<string>();
    for (const t of tags) {
      used.add(t.branch);
      const from = initial.get(t.branch);
      if (from === undefined) problems.push(`invalid branch "${t.branch}" in tag ${t.name}`);
      else if (t.revision < from) problems.push(`invalid revision ${t.revision} of tag ${t.name}`);
    }
    if (used.size !== branches.length) problems.push("unused, dangling branches stored");
    return problems;
  } finally {
    db.close();
  }
}

/** All tags, newest revision first. */
export function readHistoryTags(file: string): HistoryTag[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare("SELECT name, hash, revision, timestamp, channel, description, size, branch FROM tags ORDER BY revision DESC")
      .all() as HistoryTag[];
  } finally {
    db.close();
  }
}

/** The history's properties (`fqrn`, `schema`, `schema_revision`, `previous_revision`). */
export function readHistoryProperties(file: string): Record<string, string> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT key, value FROM properties").all() as { key: string; value: unknown }[];
    return Object.fromEntries(rows.map((r) => [r.key, String(r.value)]));
  } finally {
    db.close();
  }
}

/** Tag name for an unnamed publish, shaped like cvmfs's automatic `generic-<ISO time>` tags. */
export function genericTagName(now: Date): string {
  return `generic-${now.toISOString()}`;
}
