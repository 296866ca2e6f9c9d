import path from "node:path";
import type { ContentStore } from "../content/content-store.js";
import type { CatalogEditor } from "../cvmfs/catalog/editor.js";
import { writeImageCatalogs, type NestedCatalogRef } from "../cvmfs/catalog/writer.js";
import type { Logger } from "../logger.js";
import type { LayerEntry } from "../tree/layer-entry.js";
import { buildLayerTree } from "../tree/layer-tree.js";
import { countTree } from "../tree/image-tree.js";

/**
 * The `layers` format: each layer of an image, unflattened, in a directory of its own that
 * containerd's CVMFS snapshotter mounts as an overlay lower directory
 * (`/.layers/<2 hex>/<hex>/layerfs`, hex of the layer's manifest digest). Whiteouts are what
 * kernel overlayfs reads (a character device 0:0, the `trusted.overlay.opaque` xattr), so the
 * lower directories stacked in manifest order show exactly the flattened image.
 */

/** The directory inside a layer's directory that holds the layer's files (the snapshotter's name). */
export const LAYERFS = "layerfs";

/** One layer's catalogs, written to a store and ready to mount. */
export interface PreparedLayer {
  /** The layer's manifest digest. */
  digest: string;
  /** Its directory in the repository (`/.layers/ab/abcd…`); the catalogs mount at `<dir>/layerfs`. */
  dir: string;
  catalog: NestedCatalogRef;
  /** Whiteout devices and opaque directories in it: a gateway's merge cannot carry them. */
  whiteouts: number;
  opaqueDirs: number;
  /** The layer's own fifos and devices: a gateway's merge drops them as well. */
  specials: number;
  files: number;
  bytes: number;
}

/**
 * Builds one layer's own tree from its entries and writes its catalogs (bottom-up) into `store`.
 * The file bytes are already in the store (the layer was processed into it): nothing is read again.
 */
export async function prepareLayer(
  layer: { digest: string; dir: string; entries: Iterable<LayerEntry> },
  store: ContentStore,
  options: {
    mtime: number;
    logger: Logger;
    /** Hard links of one directory as one inode: only where no gateway merges the catalogs (it splits them). */
    hardlinkGroups?: boolean;
  },
): Promise<PreparedLayer> {
  const built = buildLayerTree(layer.entries, { logger: options.logger, layer: layer.digest });
  const counts = countTree(built.root);
  const catalog = await writeImageCatalogs(built.root, `${layer.dir}/${LAYERFS}`, store, {
    mtime: options.mtime,
    logger: options.logger,
    ...(options.hardlinkGroups ? { hardlinkGroups: true } : {}),
  });
  return { digest: layer.digest, dir: layer.dir, catalog, whiteouts: built.whiteouts, opaqueDirs: built.opaqueDirs, specials: built.specials, files: counts.files, bytes: counts.bytes };
}

/**
 * Mounts a prepared layer: `/.layers` and its fan-out directory are nested catalogs of their own
 * (as the images root is), and each `layerfs` is one more, so a client that mounts one layer
 * loads only the small catalogs on its path.
 */
export async function mountLayer(editor: CatalogEditor, layersRoot: string, layer: PreparedLayer): Promise<void> {
  await editor.ensureNestedDir(layersRoot);
  await editor.ensureNestedDir(path.posix.dirname(layer.dir));
  await editor.ensureDir(layer.dir);
  await editor.mountNested(`${layer.dir}/${LAYERFS}`, layer.catalog);
}

/**
 * Why a layer cannot be published exactly through a gateway, or undefined when it can: the
 * receiver's catalog merge replays only directories, regular files and symlinks, so a whiteout
 * device would be dropped (the deleted file would show again) and an opaque directory's xattr is
 * not known to survive the merge.
 */
export function gatewayObstacle(layer: Pick<PreparedLayer, "whiteouts" | "opaqueDirs" | "specials">): string | undefined {
  const parts = [
    layer.whiteouts > 0 ? `${layer.whiteouts} whiteout${layer.whiteouts === 1 ? "" : "s"}` : "",
    layer.opaqueDirs > 0 ? `${layer.opaqueDirs} opaque director${layer.opaqueDirs === 1 ? "y" : "ies"}` : "",
    layer.specials > 0 ? `${layer.specials} device${layer.specials === 1 ? "" : "s"} or fifo${layer.specials === 1 ? "" : "s"}` : "",
  ].filter((p) => p !== "");
  if (parts.length === 0) return undefined;
  return `it holds ${parts.join(" and ")}, which a gateway's catalog merge does not carry (only directories, files and symlinks); containerd pulls this layer from the registry instead`;
}
