import path from "node:path";
import { Readable } from "node:stream";
import type { ContentStore } from "../content/content-store.js";
import type { CatalogEditor } from "../cvmfs/catalog/editor.js";
import type { StoreEntry } from "../runtimes/podman-store.js";
import { nextPodmanNames, type PodmanNameChange } from "../runtimes/podman-names.js";
import { podmanImagesPath, podmanLayersPath } from "../runtimes/podman-images-file.js";
import { updatePodmanStore } from "../runtimes/podman-update.js";
import { parseImageReference } from "../wishlist/reference.js";
import type { TagEdit } from "./apply-plan.js";
import type { RepositoryLayout } from "../published/layout.js";
import type { PublishedState } from "../published/published-state.js";
import { wishedByThisRun } from "./plan-formats.js";
import type { PodmanSource } from "./publish-formats.js";

/**
 * What the run's final commit changes beyond names (the formats' shared parts): the Podman
 * stores follow the names in the same commit, so a store never names an image directory that is
 * not there; layer directories go with the last image that used them.
 */
export interface FormatChanges {
  /** Podman stores that change: entries to write and paths to remove, by store root. */
  podman: Array<{ root: string; write: StoreEntry[]; remove: string[] }>;
  /** The stores' lists the commit rewrites (checked against the published ones before it lands). */
  rewritten: string[];
  /** Layer directories no kept image uses any more. */
  layerRemovals: string[];
}

/**
 * Pure: the format changes of a run.
 * - Podman: a store per platform (see RepositoryLayout.podmanStoreOf): the usual names go to the
 *   default store, each architecture's names to its own. A store's names follow this run's names
 *   (see nextPodmanNames); an image stays while it has a name there or a digest-only name of the
 *   store's platform points at it, and its directory stays; images this run gathered
 *   (`joining`) come in where they are named. Stores that exist are maintained whatever this
 *   run's `--formats`, so a name that leaves the wishlist leaves Podman's list too. An
 *   architecture's store that would hold no image goes (with its last per-architecture name).
 * - Layers: the layers of the images removed now that no remaining image uses.
 */
export function planFormatChanges(input: {
  layout: RepositoryLayout;
  state: PublishedState;
  edits: readonly TagEdit[];
  removals: readonly string[];
  joining: ReadonlyMap<string, PodmanSource>;
  /** The layers of the images this run converted (they are kept, and not in `state` yet). */
  convertedLayers: Iterable<string>;
}): FormatChanges {
  const { layout, state, edits, removals, joining } = input;
  const removed = new Set(removals);
  const changes: FormatChanges = { podman: [], rewritten: [], layerRemovals: unusedLayers(layout, state, removed, input.convertedLayers) };
  if (state.podman.size === 0 && joining.size === 0) return changes;

  // The image directory every public name points at after the run.
  const pointedAt = new Map(state.tags);
  for (const e of edits) {
    if (!e.changed) continue;
    if (e.imageDir === undefined) pointedAt.delete(e.tag.publicPath);
    else pointedAt.set(e.tag.publicPath, e.imageDir);
  }
  const joiningByHex = new Map([...joining.values()].map((s) => [s.id, s]));
  const alive = (hex: string): boolean => {
    const dir = state.images.get(hex)?.dir ?? joiningByHex.get(hex)?.imageDir;
    return dir !== undefined && !removed.has(dir);
  };
  const nameChanges = new Map<string, PodmanNameChange[]>();
  for (const e of edits) {
    if (!e.changed && !wishedByThisRun(e.tag)) continue;
    const hex = e.imageDir === undefined ? undefined : layout.configHexOf(e.imageDir);
    const store = layout.podmanStoreOfName(e.tag.publicPath);
    const list = nameChanges.get(store) ?? [];
    list.push({ publicPath: e.tag.publicPath, ...(e.tag.reference ? { reference: e.tag.reference } : {}), ...(hex ? { hex } : {}) });
    nameChanges.set(store, list);
  }
  const stores = new Set([...state.podman.keys(), ...(joining.size > 0 ? nameChanges.keys() : [])]);
  for (const root of [...stores].sort()) {
    const found = state.podman.get(root);
    const previous = found?.images ?? [];
    const inStore = (hex: string): boolean => alive(hex) && (joiningByHex.has(hex) || previous.some((r) => r.id === hex));
    // A Podman name of this store back to its public name: the usual one, or under the arch's directory.
    const prefix = root === layout.podmanRoot ? "" : path.posix.dirname(root);
    const names = nextPodmanNames(previous, nameChanges.get(root) ?? [], {
      publicPathOf: (name) => {
        try {
          return `${prefix}${layout.publicPath(parseImageReference(name))}`;
        } catch {
          return undefined;
        }
      },
      inStore,
    });
    const pointedHex = new Set([...pointedAt].flatMap(([p, dir]) => (layout.podmanStoreOfName(p) === root ? (layout.configHexOf(dir) ?? []) : [])));
    const keep = new Set([...previous.map((r) => r.id), ...joiningByHex.keys()].filter((hex) => inStore(hex) && (names.has(hex) || pointedHex.has(hex))));
    if (keep.size === 0 && root !== layout.podmanRoot) {
      if (found !== undefined) changes.podman.push({ root, write: [], remove: [root] });
      continue;
    }
    if (found === undefined && keep.size === 0) continue;
    const update = updatePodmanStore(root, found, [...joiningByHex.values()], names, keep);
    if (!update.changed) continue;
    changes.podman.push({ root, write: update.write, remove: update.remove });
    changes.rewritten.push(podmanImagesPath(root), podmanLayersPath(root));
  }
  return changes;
}

/** Layer directories used by the images removed now and by no image that stays (or came in now). */
function unusedLayers(layout: RepositoryLayout, state: PublishedState, removed: ReadonlySet<string>, converted: Iterable<string>): string[] {
  if (removed.size === 0 || state.layers.size === 0) return [];
  const used = new Set<string>(converted);
  const freed = new Set<string>();
  for (const image of state.images.values()) {
    for (const layer of image.metadata?.layers ?? []) (removed.has(image.dir) ? freed : used).add(layer.digest);
  }
  return [...freed].filter((d) => !used.has(d) && state.layers.has(d)).map((d) => layout.layerDir(d)).sort();
}

/**
 * Applies format changes to the final commit's editor: layer directories removed (and their
 * fan-out directory when it empties), Podman entries removed, then written (directories root:root
 * 0755, files 0644 and links as the store needs them, at the run's time). Returns whether anything changed.
 */
export async function applyFormatChanges(
  editor: CatalogEditor,
  changes: FormatChanges,
  at: { layout: RepositoryLayout; store: ContentStore; mtime: number },
): Promise<boolean> {
  let changed = false;
  for (const dir of changes.layerRemovals) {
    if (!(await editor.remove(dir))) continue;
    changed = true;
    const fan = path.posix.dirname(dir);
    if (fan !== at.layout.layersRoot && (await editor.list(fan)).length === 0) await editor.remove(fan);
  }
  for (const store of changes.podman) {
    for (const p of store.remove) changed = (await editor.remove(p)) || changed;
    const meta = { uid: 0, gid: 0, mtime: at.mtime, mtimeNs: 0 };
    for (const entry of store.write) {
      if (entry.kind === "dir") await editor.ensureDir(entry.path, { ...meta, mode: 0o755 });
      else if (entry.kind === "symlink") await editor.putSymlink(entry.path, entry.target, { ...meta, mode: 0o777 });
      else await editor.putFile(entry.path, await at.store.putFile(Readable.from([entry.content])), { ...meta, mode: 0o644 });
    }
    changed = true;
  }
  return changed;
}
