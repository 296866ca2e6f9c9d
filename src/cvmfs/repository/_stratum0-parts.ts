import type { HashAlgorithm } from "../../content/content-store.js";
import { CatalogEditor, type CatalogLoader } from "../catalog/editor.js";
import { LocalContentStore } from "../objects/local-content-store.js";

/**
 * The two pieces a stratum 0 takes from elsewhere in the module, in one place: its content
 * store and the empty root catalog of a new repository.
 */

/** The stratum 0's object store over `dir/data` (skeleton `data/00`…`data/ff`, `data/txn` created). */
export function createStratum0Store(dir: string, algo: HashAlgorithm): Promise<LocalContentStore> {
  return LocalContentStore.create(dir, { hashAlgorithm: algo });
}

/** Store a new repository's empty root catalog (revision 0, as `CreateRepository`); returns its hash and uncompressed size. */
export async function emptyRootCatalog(
  store: LocalContentStore,
  loader: CatalogLoader,
  mtime: number,
): Promise<{ hash: string; size: number }> {
  const editor = await CatalogEditor.open(null, loader, { mtime });
  try {
    const { rootHash, rootSize } = await editor.finish(store, { revision: 0, lastModified: mtime });
    return { hash: rootHash, size: rootSize };
  } finally {
    editor.close();
  }
}
