import type { ExtraFormat, Format } from "../runtimes/formats.js";
import { WishlistError, type WishlistProblem } from "../errors.js";
import { parsePlatform, platformRank } from "../registry/platform.js";
import type { WishlistEntry } from "../wishlist/entry.js";
import { formatImageReference, parseImageReference, type ImageReference } from "../wishlist/reference.js";
import type { LayoutKind, RepositoryLayout } from "../published/layout.js";
import type { PublishedImage, PublishedState } from "../published/published-state.js";
import { updateRemovalSchedule, type RemovalSchedule } from "../published/removal-schedule.js";

/** Default grace period of `--keep-removed`, in days. */
export const DEFAULT_KEEP_REMOVED_DAYS = 7;

/**
 * One image the wishlist wants, resolved by a cheap manifest HEAD: the manifest digest is known,
 * the config digest only if the manifest was fetched (or is otherwise known).
 */
export interface DesiredImage {
  entry: WishlistEntry;
  /** Concrete reference (a real tag, or a digest). */
  ref: ImageReference;
  manifestDigest: string;
  configDigest?: string;
  /** The public name, when it is not the reference's usual one (a per-architecture name). */
  publicPath?: string;
  /** The platform to fetch (`os/arch[/variant]`), when not the run's default. */
  platform?: string;
  /** For a per-architecture name: the platform the name stands for; only an image of it may go there. */
  arch?: string;
}

/**
 * The key of one conversion before its config is known: the manifest (or index) digest, and the
 * platform when it is not the run's default, since one index digest stands for every platform.
 */
export function conversionKey(manifestDigest: string, platform: string | undefined): string {
  return platform === undefined ? manifestDigest : `${manifestDigest} ${platform}`;
}

/** The plan's verb for one public name (DESIGN.md "Names"). */
export type TagAction = "add" | "update" | "keep" | "remove";

/** What happens to one public name. */
export interface PlannedTag {
  action: TagAction;
  /** Absolute path in the repository, e.g. `/library/centos:7`. */
  publicPath: string;
  /** Normalised reference wanted (add/update/keep), or the one last published there (remove), if known. */
  reference?: string;
  /** The wishlist line asking for it (absent for remove and retained names). */
  file?: string;
  line?: number;
  manifestDigest?: string;
  previousManifestDigest?: string;
  /** The platform fetched for it, when not the run's default (see DesiredImage). */
  platform?: string;
  /** For a per-architecture name: the platform it stands for. */
  arch?: string;
  /** The digest of the platform's own manifest, when known (a kept name's image says it, `plan` reads a moved index). */
  platformManifestDigest?: string;
  /** What converting the platform's manifest downloads (compressed config and layers), when `plan` read it. */
  compressedBytes?: number;
  /** Why the name is not published this run: its index lacks the platform (see platforms/plan-platforms.ts). */
  platformNote?: string;
  /** Image directory it will point at; undefined while the config digest is unknown (a conversion will tell). */
  imageDir?: string;
  previousImageDir?: string;
  /** True when the image it needs is not in the repository yet. */
  convert: boolean;
  /** Kept although not wanted this run, because the caller asked to retain it (e.g. resolution failed). */
  retained?: boolean;
  /** Kept although not wanted this run, because these other owners still want it (see name-owners.ts). */
  otherOwners?: string[];
  /** Size of the target image, from its metadata, when known. */
  files?: number;
  bytes?: number;
  /** The formats beyond the sandbox its image has, and those this run adds (see plan-formats.ts). */
  formats?: { have: ExtraFormat[]; add: ExtraFormat[] };
}

/** One image to convert: done once however many names want it. */
export interface PlannedConversion {
  manifestDigest: string;
  /** The platform to fetch, when not the run's default. */
  platform?: string;
  configDigest?: string;
  /** Known when the config digest is. */
  imageDir?: string;
  references: string[];
  publicPaths: string[];
}

/** An image directory that no name points at after this run. */
export interface PlannedImageRemoval {
  hex: string;
  imageDir: string;
  /** True: deleted in this run. False: waiting until `removeAfter`. */
  due: boolean;
  removeAfter?: string;
  lastNames: string[];
  files?: number;
  bytes?: number;
}

/** Desired vs published: everything a sync would do, for the executor, a table or JSON. */
export interface Plan {
  layout: LayoutKind;
  /** Sorted by public path. */
  tags: PlannedTag[];
  conversions: PlannedConversion[];
  imageRemovals: PlannedImageRemoval[];
  /** The removal schedule to write back (due images already left out). */
  schedule: RemovalSchedule;
  /** The names' owners after this run, if every name change is made (see name-owners.ts). */
  owners: Map<string, string[]>;
  summary: {
    add: number;
    update: number;
    keep: number;
    remove: number;
    /** Names kept only because another owner wants them. */
    others: number;
    convert: number;
    removeImages: number;
    waiting: number;
    /** Published images that get a format they lack (see plan-formats.ts). */
    addFormats?: number;
  };
  /** The formats this run publishes (`--formats`); absent: the sandbox alone. */
  formats?: Format[];
}

/** Options of one plan. */
export interface PlanOptions {
  /** Grace period for untagged images (`--keep-removed`), default DEFAULT_KEEP_REMOVED_DAYS. */
  keepRemovedDays?: number;
  /** "Now" for the removal schedule; default the current time. */
  now?: Date;
  /** Public names to leave untouched even if no desired image names them (entries whose resolution failed). */
  retain?: Iterable<string>;
  /**
   * Who this run is (`--owner`): its wanted names are recorded as its own, and a name it does not
   * want is removed only when no other owner has it. Without an owner, names are not tracked and
   * every name the wishlist lacks is removed.
   */
  owner?: string;
  /**
   * The run's default platform (`os/arch[/variant]`): a usual name whose image was chosen from an
   * index for another platform (a line's old `# platforms=` override) moves to this one's image.
   */
  defaultPlatform?: string;
}

const hexOf = (digest: string): string => digest.slice(digest.indexOf(":") + 1);

/**
 * Pure: compare the desired images with the published state.
 * - Same manifest digest as the image the name points at → `keep`, nothing fetched.
 * - Else the target image is found by config digest (when known) or by a published image whose
 *   metadata has that manifest digest; if it exists the name moves there without conversion,
 *   otherwise a conversion is planned, once per config digest (per manifest digest while the
 *   config is unknown; the executor folds those that turn out to share a config).
 * - Published names this run does not want → `remove` (unless retained, or another owner has
 *   them: then `keep` with `otherOwners`), dangling ones included.
 * - Images left without a name go through the removal schedule (grace period). An image that an
 *   `update` with a still-unknown config digest moves away from is not counted as untagged in this
 *   run: the new config may prove to be the same image.
 * Throws WishlistError (exit 2) when different references land on one public name.
 */
export function assemblePlan(
  desired: readonly DesiredImage[],
  state: PublishedState,
  layout: RepositoryLayout,
  options: PlanOptions = {},
): Plan {
  const byPath = groupByPublicPath(desired, layout);
  const byManifest = new Map<string, PublishedImage>();
  for (const image of state.images.values()) if (image.metadata) byManifest.set(image.metadata.manifestDigest, image);

  // A manifest whose config one desired image knows has that config for all of them.
  const configOfManifest = new Map<string, string>();
  for (const d of desired) if (d.configDigest) configOfManifest.set(d.manifestDigest, d.configDigest);

  const tags: PlannedTag[] = [];
  const owners = new Map(state.owners);
  const { owner } = options;
  const othersOf = (publicPath: string): string[] => (owner === undefined ? [] : (state.owners.get(publicPath) ?? []).filter((o) => o !== owner));
  const conversions = new Map<string, PlannedConversion>();
  const referenced = new Set<string>();
  for (const [publicPath, wanted] of byPath) {
    const configDigest = wanted.configDigest ?? configOfManifest.get(wanted.manifestDigest);
    const d: DesiredImage = { ...wanted, ...(configDigest ? { configDigest } : {}) };
    const previousDir = state.tags.get(publicPath);
    const previous = previousDir === undefined ? undefined : state.images.get(layout.configHexOf(previousDir) ?? "");
    const reference = formatImageReference(d.ref);
    const target = findTarget(d, previous, state, byManifest, options.defaultPlatform);
    const imageDir = target?.dir ?? (d.configDigest ? layout.imageDir(d.configDigest) : undefined);
    if (imageDir) referenced.add(layout.configHexOf(imageDir) ?? "");
    else if (previous) referenced.add(previous.hex); // unknown config: the old image may be the same one
    if (!target) {
      const key = d.configDigest ?? conversionKey(d.manifestDigest, d.platform);
      const c = conversions.get(key) ?? {
        manifestDigest: d.manifestDigest,
        ...(d.platform ? { platform: d.platform } : {}),
        ...(d.configDigest ? { configDigest: d.configDigest } : {}),
        ...(imageDir ? { imageDir } : {}),
        references: [],
        publicPaths: [],
      };
      c.references.push(reference);
      c.publicPaths.push(publicPath);
      conversions.set(key, c);
    }
    if (owner !== undefined) owners.set(publicPath, [...new Set([...(state.owners.get(publicPath) ?? []), owner])].sort());
    // A dangling name is replaced like a missing one: `add` (the executor overwrites the link).
    const action: TagAction = previousDir === undefined ? "add" : target && target.dir === previousDir ? "keep" : "update";
    tags.push({
      action,
      publicPath,
      reference,
      file: d.entry.file,
      line: d.entry.line,
      manifestDigest: d.manifestDigest,
      ...(d.platform ? { platform: d.platform } : {}),
      ...(d.arch ? { arch: d.arch } : {}),
      ...(target?.metadata ? { platformManifestDigest: target.metadata.manifestDigest } : {}),
      ...(previous?.metadata && action !== "keep" ? { previousManifestDigest: previous.metadata.manifestDigest } : {}),
      ...(imageDir ? { imageDir } : {}),
      ...(previousDir !== undefined && action !== "keep" ? { previousImageDir: previousDir } : {}),
      convert: !target,
      ...sizeOf(target),
    });
  }

  const retain = new Set(options.retain ?? []);
  // The names an image has before this run: if it ends up untagged, these are the names it lost.
  const lastNames = new Map<string, string[]>();
  for (const [publicPath, dir] of state.tags) {
    const hex = layout.configHexOf(dir);
    if (hex !== undefined) lastNames.set(hex, [...(lastNames.get(hex) ?? []), publicPath]);
  }
  for (const [publicPath, dir] of state.tags) {
    if (byPath.has(publicPath)) continue;
    const image = state.images.get(layout.configHexOf(dir) ?? "");
    if (retain.has(publicPath)) {
      if (image) referenced.add(image.hex);
      tags.push({ action: "keep", publicPath, imageDir: dir, convert: false, retained: true, ...sizeOf(image) });
      continue;
    }
    const others = othersOf(publicPath);
    if (others.length > 0) {
      if (image) referenced.add(image.hex);
      owners.set(publicPath, others);
      tags.push({ action: "keep", publicPath, imageDir: dir, convert: false, otherOwners: others, ...sizeOf(image) });
      continue;
    }
    owners.delete(publicPath);
    const published = image?.metadata?.references.find((r) => {
      const ref = parseRef(r);
      return ref !== undefined && layout.publicPath(ref) === publicPath;
    });
    tags.push({
      action: "remove",
      publicPath,
      ...(published ? { reference: published } : {}),
      ...(image?.metadata ? { previousManifestDigest: image.metadata.manifestDigest } : {}),
      previousImageDir: dir,
      convert: false,
    });
  }
  for (const [publicPath, linkTarget] of state.dangling) {
    if (byPath.has(publicPath) || retain.has(publicPath) || othersOf(publicPath).length > 0) continue;
    owners.delete(publicPath);
    tags.push({ action: "remove", publicPath, previousImageDir: linkTarget, convert: false });
  }
  tags.sort((a, b) => (a.publicPath < b.publicPath ? -1 : a.publicPath > b.publicPath ? 1 : 0));

  const untagged = [...state.images.keys()].filter((hex) => !referenced.has(hex));
  const { schedule, due } = updateRemovalSchedule(state.schedule, {
    present: state.images.keys(),
    untagged,
    lastNames,
    now: options.now ?? new Date(),
    keepDays: options.keepRemovedDays ?? DEFAULT_KEEP_REMOVED_DAYS,
  });
  const dueSet = new Set(due);
  const imageRemovals: PlannedImageRemoval[] = untagged.sort().map((hex) => {
    const image = state.images.get(hex) as PublishedImage;
    const waiting = schedule.images[hex];
    return {
      hex,
      imageDir: image.dir,
      due: dueSet.has(hex),
      ...(waiting ? { removeAfter: waiting.removeAfter } : {}),
      lastNames: waiting?.lastNames ?? state.schedule.images[hex]?.lastNames ?? lastNames.get(hex)?.sort() ?? [],
      ...sizeOf(image),
    };
  });

  return {
    layout: layout.kind,
    tags,
    conversions: [...conversions.values()],
    imageRemovals,
    schedule,
    owners,
    summary: {
      ...countTags(tags),
      convert: conversions.size,
      removeImages: due.length,
      waiting: imageRemovals.length - due.length,
    },
  };
}

/** The summary's counts of names by action, and of names kept only for other owners. */
export function countTags(tags: readonly PlannedTag[]): Pick<Plan["summary"], "add" | "update" | "keep" | "remove" | "others"> {
  const count = (a: TagAction): number => tags.filter((t) => t.action === a).length;
  return { add: count("add"), update: count("update"), keep: count("keep"), remove: count("remove"), others: tags.filter((t) => t.otherOwners !== undefined).length };
}

/**
 * The published image a desired one can use as is: the one its name points at when the manifest
 * (or the config) is the same, else any image with its config digest or its manifest digest.
 */
function findTarget(
  d: DesiredImage,
  previous: PublishedImage | undefined,
  state: PublishedState,
  byManifest: ReadonlyMap<string, PublishedImage>,
  defaultPlatform: string | undefined,
): PublishedImage | undefined {
  const configHex = d.configDigest ? hexOf(d.configDigest) : undefined;
  // A tag on a multi-platform index resolves to the index digest; the image keeps it beside the
  // digest of the platform's own manifest, so an unchanged index is a `keep` with no fetch.
  const sameManifest =
    previous?.metadata?.manifestDigest === d.manifestDigest || previous?.metadata?.indexDigest === d.manifestDigest || previous?.indexes?.includes(d.manifestDigest) === true;
  if (previous && fits(d, previous, defaultPlatform) && (sameManifest || previous.hex === configHex)) return previous;
  const found = (configHex ? state.images.get(configHex) : undefined) ?? byManifest.get(d.manifestDigest);
  return found && fits(d, found, defaultPlatform) ? found : undefined;
}

/**
 * Whether an image may serve a desired name: only one of the name's own platform for a
 * per-architecture name or a name fetched for another platform than the run's default (a
 * single-platform manifest found by its digest may be of another architecture; an index digest
 * names no image's manifest); for a usual name, an image chosen from an index must be of the
 * run's default platform, and a single-platform image is what it is.
 */
function fits(d: DesiredImage, image: PublishedImage, defaultPlatform: string | undefined): boolean {
  const wanted = d.arch ?? d.platform ?? (image.metadata?.indexDigest !== undefined ? defaultPlatform : undefined);
  if (wanted === undefined) return true;
  if (!image.metadata) return false;
  return platformRank(parsePlatform(wanted), parsePlatform(image.metadata.platform)) !== undefined;
}

/** Desired images by public name; different references on one name are a wishlist error. */
function groupByPublicPath(desired: readonly DesiredImage[], layout: RepositoryLayout): Map<string, DesiredImage> {
  const byPath = new Map<string, DesiredImage>();
  const problems: WishlistProblem[] = [];
  for (const d of desired) {
    const p = d.publicPath ?? layout.publicPath(d.ref);
    const other = byPath.get(p);
    if (!other) byPath.set(p, d);
    else if (formatImageReference(other.ref) !== formatImageReference(d.ref)) {
      problems.push({
        file: d.entry.file,
        line: d.entry.line,
        message:
          `${formatImageReference(d.ref)} would be published as ${p}, ` +
          `which ${formatImageReference(other.ref)} (${other.entry.file}:${other.entry.line}) already uses`,
      });
    }
  }
  if (problems.length > 0) throw new WishlistError(problems);
  return new Map([...byPath].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sizeOf(image: PublishedImage | undefined): { files?: number; bytes?: number } {
  return image?.metadata ? { files: image.metadata.files, bytes: image.metadata.bytes } : {};
}

function parseRef(text: string): ImageReference | undefined {
  try {
    return parseImageReference(text);
  } catch {
    return undefined;
  }
}

