import { parseImageReference } from "../wishlist/reference.js";
import type { PodmanImageRecord } from "./podman-images-file.js";

/**
 * Which names each image has in the Podman store after a run. The store is shared by every
 * wishlist that publishes into the repository, so a run starts from the names the store holds
 * and changes only those its own public names change; names other wishlists put there stay.
 */

/**
 * The name Podman knows a wishlist reference by: the normalised tag form
 * (`docker.io/library/centos:7`), which short names (`centos:7`) resolve to. A digest-only
 * reference has no name: Podman finds it by its digest (`name@sha256:…`).
 */
export function podmanName(reference: string): string | undefined {
  const ref = parseImageReference(reference);
  if (ref.tag === undefined) return undefined;
  return `${ref.registry}/${ref.repository}:${ref.tag}`;
}

/** One public name this run changed: now pointing at `hex`'s image, or gone (`hex` undefined). */
export interface PodmanNameChange {
  publicPath: string;
  /** The reference the public name stands for (what Podman will call the image). */
  reference?: string;
  hex?: string;
}

/**
 * Pure: image ID → its names after the run. A name whose public name went, or moved to an image
 * the store will not hold, leaves its image; a moved name follows its public name.
 * `publicPathOf` maps a Podman name back to the public name it came from (the layout's rule),
 * so a removed public name takes its Podman name along even when the run does not know the
 * reference any more.
 */
export function nextPodmanNames(
  previous: readonly PodmanImageRecord[],
  changes: readonly PodmanNameChange[],
  options: { publicPathOf(name: string): string | undefined; inStore(hex: string): boolean },
): Map<string, string[]> {
  const imageOf = new Map<string, string>();
  for (const record of previous) for (const name of record.names ?? []) imageOf.set(name, record.id);
  const changedPaths = new Set(changes.map((c) => c.publicPath));
  for (const name of [...imageOf.keys()]) {
    const from = options.publicPathOf(name);
    if (from !== undefined && changedPaths.has(from)) imageOf.delete(name);
  }
  for (const change of changes) {
    if (change.hex === undefined || change.reference === undefined || !options.inStore(change.hex)) continue;
    const name = podmanName(change.reference);
    if (name !== undefined) imageOf.set(name, change.hex);
  }
  const names = new Map<string, string[]>();
  for (const [name, hex] of imageOf) names.set(hex, [...(names.get(hex) ?? []), name]);
  for (const list of names.values()) list.sort();
  return names;
}
