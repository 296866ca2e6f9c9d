import type { CatalogEntry } from "./row.js";
import { catalogPath } from "./md5-path.js";

/** What a walk reads: the catalog hierarchy as an catalogs or a reader sees it. */
export interface WalkableCatalogs {
  lookup(path: string): Promise<CatalogEntry | undefined>;
  list(path: string): Promise<CatalogEntry[]>;
  nestedAt(path: string): Promise<{ hash: string; size: number } | undefined>;
}

/** One entry met by a walk. */
export interface WalkEntry {
  path: string;
  entry: CatalogEntry;
  /** For a mountpoint: the nested catalog mounted there. */
  nested?: { hash: string; size: number };
}

/**
 * Every entry at and below `path` in pre-order (names sorted), crossing into nested catalogs
 * (loaded on the way): a mountpoint is met once, as its parent's row with `nested` set, then its
 * contents. Nothing is yielded when `path` does not exist.
 */
export async function* walkCatalogTree(catalogs: WalkableCatalogs, path: string): AsyncGenerator<WalkEntry> {
  const p = catalogPath(path);
  const entry = await catalogs.lookup(p);
  if (!entry) return;
  yield* visit(catalogs, p, entry);
}

async function* visit(catalogs: WalkableCatalogs, path: string, entry: CatalogEntry): AsyncGenerator<WalkEntry> {
  const nested = entry.isMountpoint ? await catalogs.nestedAt(path) : undefined;
  yield { path, entry, ...(nested ? { nested } : {}) };
  if (entry.kind !== "dir") return;
  for (const child of await catalogs.list(path)) yield* visit(catalogs, `${path}/${child.name}`, child);
}
