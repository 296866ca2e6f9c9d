import type { Database } from "better-sqlite3";
import { counterRows, type CatalogCounters } from "./counters.js";

/**
 * The file catalog schema 2.5 revision 7 (cvmfs-formats.md §3), statement for statement as the
 * CVMFS publisher creates it: the properties table first, then catalog, its parent index, chunks,
 * nested_catalogs, bind_mountpoints and statistics.
 */

export const CATALOG_SCHEMA = "2.5";
export const CATALOG_SCHEMA_REVISION = 7;

/** The index behind directory listings (rows by parent). */
export const PARENT_INDEX_DDL = "CREATE INDEX idx_catalog_parent ON catalog (parent_1, parent_2);";

/** The DDL in creation order. */
export const CATALOG_DDL: readonly string[] = [
  "CREATE TABLE properties (key TEXT, value TEXT, CONSTRAINT pk_properties PRIMARY KEY (key));",
  "CREATE TABLE catalog " +
    "(md5path_1 INTEGER, md5path_2 INTEGER, parent_1 INTEGER, parent_2 INTEGER," +
    " hardlinks INTEGER, hash BLOB, size INTEGER, mode INTEGER, mtime INTEGER," +
    " mtimens INTEGER, flags INTEGER, name TEXT, symlink TEXT, uid INTEGER," +
    " gid INTEGER, xattr BLOB, " +
    " CONSTRAINT pk_catalog PRIMARY KEY (md5path_1, md5path_2));",
  PARENT_INDEX_DDL,
  "CREATE TABLE chunks " +
    "(md5path_1 INTEGER, md5path_2 INTEGER, offset INTEGER, size INTEGER, " +
    " hash BLOB, " +
    " CONSTRAINT pk_chunks PRIMARY KEY (md5path_1, md5path_2, offset, size), " +
    " FOREIGN KEY (md5path_1, md5path_2) REFERENCES " +
    "   catalog(md5path_1, md5path_2));",
  "CREATE TABLE nested_catalogs (path TEXT, sha1 TEXT, size INTEGER, " +
    "CONSTRAINT pk_nested_catalogs PRIMARY KEY (path));",
  "CREATE TABLE bind_mountpoints (path TEXT, sha1 TEXT, size INTEGER, " +
    "CONSTRAINT pk_bind_mountpoints PRIMARY KEY (path));",
  "CREATE TABLE statistics (counter TEXT, value INTEGER, " +
    "CONSTRAINT pk_statistics PRIMARY KEY (counter));",
];

/**
 * Creates every table of an empty catalog and stores `schema`/`schema_revision`. With
 * `deferParentIndex` the parent index is left out, for the caller to create (with
 * `PARENT_INDEX_DDL`) once the rows are in.
 */
export function createCatalogSchema(db: Database, options: { deferParentIndex?: boolean } = {}): void {
  for (const ddl of CATALOG_DDL) if (!(options.deferParentIndex && ddl === PARENT_INDEX_DDL)) db.exec(ddl);
  setProperties(db, { schema: CATALOG_SCHEMA, schema_revision: String(CATALOG_SCHEMA_REVISION) });
}

/**
 * Sets (inserts or replaces) properties. Values are stored as TEXT, the way the publisher's
 * integer and float binds end up in the TEXT column ("7", "2.5"); `undefined` deletes the key.
 */
export function setProperties(db: Database, props: Record<string, string | number | undefined>): void {
  const entries = Object.entries(props);
  const put = entries.filter((e): e is [string, string | number] => e[1] !== undefined);
  const del = entries.filter((e) => e[1] === undefined);
  // One statement for all the values: a freshly written catalog pays for each statement prepared.
  if (put.length > 0) {
    db.prepare(`INSERT OR REPLACE INTO properties (key, value) VALUES ${put.map(() => "(?, ?)").join(", ")}`).run(put.flatMap(([k, v]) => [k, String(v)]));
  }
  if (del.length > 0) db.prepare(`DELETE FROM properties WHERE key IN (${del.map(() => "?").join(", ")})`).run(del.map(([k]) => k));
}

/** Writes all 24 statistics counters (replacing any present), in one statement. */
export function writeStatistics(db: Database, counters: CatalogCounters): void {
  const rows = counterRows(counters);
  db.prepare(`INSERT OR REPLACE INTO statistics (counter, value) VALUES ${rows.map(() => "(?, ?)").join(", ")}`).run(rows.flat());
}
