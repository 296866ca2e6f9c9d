import type { ChunkRef } from "../../content/content-store.js";
import type { CatalogCounters } from "./counters.js";
import { CatalogDb, type CatalogObject, type NestedRow } from "./db.js";
import { decodeRow, type CatalogEntry } from "./row.js";
import { catalogPath, md5PathKey } from "./md5-path.js";

/**
 * Read access to one catalog file (a single SQLite file: nested catalogs are not followed; the
 * repository reader and the catalog editor walk the hierarchy).
 */
export interface CatalogReader {
  /** All properties as text (`schema`, `revision`, `root_prefix`, …). */
  properties(): Record<string, string>;
  /** The entry at a repository path (`/a/b`; `/` or `""` for the root), if this catalog holds it. */
  lookup(path: string): CatalogEntry | undefined;
  /** The entries whose parent is `path`, sorted by name. */
  listing(path: string): CatalogEntry[];
  /** The `nested_catalogs` rows: mountpoint path, child hash string, uncompressed size. */
  nested(): NestedRow[];
  /** The 24 statistics counters. */
  counters(): CatalogCounters;
  /** Every row, decoded. */
  entries(): CatalogEntry[];
  /** The chunks of a chunked file (empty for anything else). */
  chunks(path: string): ChunkRef[];
  /** Every object the rows name (files and chunks, streamed; see `CatalogDb.objects`). */
  objects(): Iterable<CatalogObject>;
  close(): void;
}

/**
 * Opens a decompressed catalog: a file path (opened read-only in place) or the file's bytes.
 * @throws CatalogError when it is not a file catalog.
 */
export function openCatalog(source: string | Buffer): CatalogReader {
  const db = typeof source === "string" ? CatalogDb.openFile(source) : CatalogDb.fromBytes(source);
  const byName = (a: CatalogEntry, b: CatalogEntry): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    properties: () => db.properties(),
    lookup(path) {
      const row = db.getRow(md5PathKey(catalogPath(path)));
      return row === undefined ? undefined : decodeRow(row);
    },
    listing(path) {
      const key = md5PathKey(catalogPath(path));
      // The root's parent key is all zero; never list the root as a child of itself.
      return db.listRows(key).map(decodeRow).filter((e) => e.md5path[0] !== key[0] || e.md5path[1] !== key[1]).sort(byName);
    },
    nested: () => db.nested(),
    counters: () => db.counters(),
    entries: () => db.allRows().map(decodeRow),
    chunks(path) {
      const row = db.getRow(md5PathKey(catalogPath(path)));
      return row === undefined || (row.flags & 64) === 0 ? [] : db.chunks(row.md5path, row.flags);
    },
    objects: () => db.objects(),
    close: () => db.close(),
  };
}
