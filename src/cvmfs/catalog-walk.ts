import type { CatalogEditor } from "./catalog-editor.js";
import type { CatalogEntry } from "./catalog-row.js";
import { catalogPath } from "./md5-path.js";

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
export async function* walkCatalogTree(editor: CatalogEditor, path: string): AsyncGenerator<WalkEntry> {
  const p = catalogPath(path);
  const entry = await editor.lookup(p);
  if (!entry) return;
  yield* visit(editor, p, entry);
}

async function* visit(editor: CatalogEditor, path: string, entry: CatalogEntry): AsyncGenerator<WalkEntry> {
  const nested = entry.isMountpoint ? await editor.nestedAt(path) : undefined;
  yield { path, entry, ...(nested ? { nested } : {}) };
  if (entry.kind !== "dir") return;
  for (const child of await editor.list(path)) yield* visit(editor, `${path}/${child.name}`, child);
}
