import type { PodmanImageRecord, PodmanLayerRecord, PodmanStoreLists } from "./podman-images-file.js";
import {
  podmanImageEntries,
  podmanImagePaths,
  podmanImageRecord,
  podmanLayerRecord,
  podmanSharedFiles,
  type PodmanStoreImage,
  type StoreEntry,
} from "./podman-store.js";

/** What a run does to the Podman store: entries to write, paths to remove. */
export interface PodmanStoreUpdate {
  changed: boolean;
  write: StoreEntry[];
  remove: string[];
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Pure: the store after a run, from the lists as found. Images in `keep` stay, with the names
 * `names` gives them (records otherwise untouched, fields this tool does not know included);
 * `joining` images come in with their entries; the others leave, their entries removed. Nothing
 * changes (`changed` false) when the lists would come out as they are, so an idle run publishes
 * no new revision.
 */
export function updatePodmanStore(
  storeRoot: string,
  previous: PodmanStoreLists | undefined,
  joining: ReadonlyArray<Omit<PodmanStoreImage, "names">>,
  names: ReadonlyMap<string, readonly string[]>,
  keep: ReadonlySet<string>,
): PodmanStoreUpdate {
  const before = { images: [...(previous?.images ?? [])].sort(byId), layers: [...(previous?.layers ?? [])].sort(byId) };
  const joined = joining.filter((j) => keep.has(j.id) && !before.images.some((r) => r.id === j.id)).map((j) => ({ ...j, names: [...(names.get(j.id) ?? [])] }));
  const images: PodmanImageRecord[] = [
    ...before.images.filter((r) => keep.has(r.id)).map((r) => ({ ...r, names: [...(names.get(r.id) ?? [])] })),
    ...joined.map(podmanImageRecord),
  ].sort(byId);
  const layerIds = new Set(images.map((r) => r.layer));
  const joinedLayers = joined.map(podmanLayerRecord);
  const layers: PodmanLayerRecord[] = [...before.layers.filter((l) => layerIds.has(l.id) && !joinedLayers.some((j) => j.id === l.id)), ...joinedLayers].sort(byId);
  const changed = previous === undefined || JSON.stringify(images) !== JSON.stringify(before.images) || JSON.stringify(layers) !== JSON.stringify(before.layers);
  if (!changed) return { changed, write: [], remove: [] };
  return {
    changed,
    write: [...podmanSharedFiles(storeRoot, images, layers), ...joined.flatMap((j) => podmanImageEntries(storeRoot, j))],
    remove: before.images.filter((r) => !keep.has(r.id)).flatMap((r) => podmanImagePaths(storeRoot, r.id)),
  };
}
