import { extraFormats, type ExtraFormat, type Format } from "../runtimes/formats.js";
import { podmanName } from "../runtimes/podman-names.js";
import type { RepositoryLayout } from "../published/layout.js";
import type { Plan, PlannedTag } from "./plan.js";
import type { PublishedState } from "../published/published-state.js";

/**
 * Pure: which formats each wanted name's image has, and which this run adds (`--formats`). An
 * image converted in this run gets every wanted format; a published one gets what it lacks:
 * - `layers`: the published-state index says it has them, else every layer directory is there;
 * - `podman`: the name's store (the default one, or its architecture's) lists the image under
 *   this name.
 * Names kept for other owners, or retained after a failed resolution, are not this run's wish.
 */
export function planFormats(plan: Plan, state: PublishedState, layout: RepositoryLayout, wanted: readonly Format[]): Plan {
  const extras = extraFormats(wanted);
  const tags = plan.tags.map((tag): PlannedTag => {
    if (!wishedByThisRun(tag)) return tag;
    const have = tag.convert || tag.imageDir === undefined ? [] : formatsOf(tag, state, layout);
    const add = extras.filter((f) => !have.includes(f));
    if (have.length === 0 && add.length === 0) return tag;
    return { ...tag, formats: { have, add } };
  });
  const needing = new Set(tags.flatMap((t) => (!t.convert && t.formats && t.formats.add.length > 0 && t.imageDir ? [t.imageDir] : [])));
  return { ...plan, formats: [...wanted], tags, summary: { ...plan.summary, addFormats: needing.size } };
}

/**
 * Whether a name is this run's own wish (a wishlist line asks for it now): not a removal, nor a
 * name kept for other owners or retained after a failed resolution. Only such names get formats.
 */
export function wishedByThisRun(tag: PlannedTag): boolean {
  return tag.action !== "remove" && tag.file !== undefined && !tag.retained && !tag.otherOwners;
}

function formatsOf(tag: PlannedTag, state: PublishedState, layout: RepositoryLayout): ExtraFormat[] {
  const hex = layout.configHexOf(tag.imageDir ?? "");
  if (hex === undefined) return [];
  // Per name for Podman: the store holds the image, but maybe not under this name yet.
  const record = podmanRecord(hex, tag, state, layout);
  const name = tag.reference === undefined ? undefined : podmanName(tag.reference);
  const named = record !== undefined && (name === undefined || (record.names ?? []).includes(name));
  return [...imageFormats(hex, state), ...(named ? (["podman"] as const) : [])];
}

/** One published image that lacks formats this run wants, and a name that leads to it. */
export interface FormatNeed {
  imageDir: string;
  hex: string;
  need: ExtraFormat[];
  tag: PlannedTag;
}

/**
 * Pure: the published images this run's names point at (after its edits) that lack a wanted
 * format, less what the run already did (`done`, by config hex). For Podman an image lacks the
 * format when the store does not hold it at all: a name missing from an image it holds needs no
 * bytes and is added with the names.
 */
export function formatNeeds(
  edits: ReadonlyArray<{ tag: PlannedTag; imageDir?: string }>,
  state: PublishedState,
  layout: RepositoryLayout,
  extras: readonly ExtraFormat[],
  done: ReadonlyMap<string, ReadonlySet<ExtraFormat>>,
): FormatNeed[] {
  const needs = new Map<string, FormatNeed>();
  for (const { tag, imageDir } of edits) {
    if (imageDir === undefined || !wishedByThisRun(tag)) continue;
    const hex = layout.configHexOf(imageDir);
    if (hex === undefined) continue;
    // For Podman the image's bytes are needed only when the name's store lacks the image.
    const inStore = podmanRecord(hex, tag, state, layout) !== undefined;
    const have = new Set<ExtraFormat>([...imageFormats(hex, state), ...(inStore ? (["podman"] as const) : []), ...(done.get(hex) ?? [])]);
    const need = extras.filter((f) => !have.has(f));
    if (need.length === 0) continue;
    const known = needs.get(imageDir);
    if (known) known.need = extras.filter((f) => known.need.includes(f) || need.includes(f));
    else needs.set(imageDir, { imageDir, hex, need, tag });
  }
  return [...needs.values()];
}

/** The formats of a published image that do not depend on a name: its layer directories. */
function imageFormats(hex: string, state: PublishedState): ExtraFormat[] {
  const image = state.images.get(hex);
  const layers = image?.metadata?.layers ?? [];
  return image?.formats?.includes("layers") || (layers.length > 0 && layers.every((l) => state.layers.has(l.digest))) ? ["layers"] : [];
}

/** The image's record in the Podman store a name goes to (its platform's), if there. */
function podmanRecord(hex: string, tag: PlannedTag, state: PublishedState, layout: RepositoryLayout) {
  return state.podman.get(layout.podmanStoreOfName(tag.publicPath))?.images.find((r) => r.id === hex);
}
