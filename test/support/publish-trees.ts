/**
 * Publishes image trees into a local stratum 0 the way a sync does (src/sync/prepare-image.ts
 * and publish-target.ts), minimally: each tree's catalogs written with `writeImageCatalogs` into
 * the stratum 0's store, mounted with the catalog editor at its path, one revision for all.
 *
 *   await publishTrees(s0, [{ path: "/.layers/ab/cdef…/layerfs", tree }]);
 */
import { CatalogEditor } from "../../src/cvmfs/catalog/editor.js";
import { writeImageCatalogs } from "../../src/cvmfs/catalog/writer.js";
import type { Stratum0 } from "../../src/cvmfs/repository/stratum0.js";
import type { DirNode } from "../../src/tree/types.js";

export interface TreeAt {
  /** Repository path the tree is mounted at, its own nested catalog (`/.images/ab/cdef…`). */
  path: string;
  tree: DirNode;
}

/** Writes and mounts every tree, publishes one revision; returns it. */
export async function publishTrees(s0: Stratum0, trees: TreeAt[], mtime = 1_700_000_000): Promise<number> {
  const base = await s0.refresh();
  const editor = await CatalogEditor.open(base.catalogHash, s0.catalogLoader, { mtime });
  try {
    for (const { path, tree } of trees) {
      const ref = await writeImageCatalogs(tree, path, s0.store, { mtime });
      await editor.mountNested(path, ref);
    }
    const finished = await editor.finish(s0.store, { revision: base.revision + 1 });
    const manifest = await s0.publish({ rootHash: finished.rootHash, rootSize: finished.rootSize, baseRootHash: base.catalogHash });
    return manifest.revision;
  } finally {
    editor.close();
  }
}
