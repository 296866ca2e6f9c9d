import { z } from "zod";
import { parseRepositoryJson } from "../repository-json.js";

/**
 * The Podman store's two lists as found in the repository: `overlay-images/images.json` and
 * `overlay-layers/layers.json` (containers/storage's formats: JSON arrays of records). A run reads
 * them back to learn which images and names the store holds, including names other wishlists put
 * there, and changes only what its own names change. Fields this tool does not use are kept.
 */
export const PodmanImageRecord = z.looseObject({
  /** The image ID: the config digest hex. */
  id: z.string().regex(/^[a-f0-9]{64}$/),
  /** Its names, normalised references (`docker.io/library/centos:7`). */
  names: z.array(z.string()).optional(),
  /** The top layer's ID. */
  layer: z.string().optional(),
});
export type PodmanImageRecord = z.infer<typeof PodmanImageRecord>;

export const PodmanLayerRecord = z.looseObject({ id: z.string().regex(/^[a-f0-9]{64}$/) });
export type PodmanLayerRecord = z.infer<typeof PodmanLayerRecord>;

/** The store's lists, as read. */
export interface PodmanStoreLists {
  images: PodmanImageRecord[];
  layers: PodmanLayerRecord[];
}

/** Where the image list lives under the store root. */
export function podmanImagesPath(storeRoot: string): string {
  return `${storeRoot}/overlay-images/images.json`;
}

/** Where the layer list lives under the store root. */
export function podmanLayersPath(storeRoot: string): string {
  return `${storeRoot}/overlay-layers/layers.json`;
}

/** Parse images.json; throws RepositoryError naming `where` when it is not an image list. */
export function parsePodmanImagesFile(bytes: Buffer | string, where: string): PodmanImageRecord[] {
  return parseRepositoryJson(z.array(PodmanImageRecord), bytes, "Podman image list", where);
}

/** Parse layers.json; throws RepositoryError naming `where` when it is not a layer list. */
export function parsePodmanLayersFile(bytes: Buffer | string, where: string): PodmanLayerRecord[] {
  return parseRepositoryJson(z.array(PodmanLayerRecord), bytes, "Podman layer list", where);
}
