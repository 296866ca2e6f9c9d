import pLimit from "p-limit";
import { errorCode } from "../errors.js";
import { info, warn, type Logger } from "../logger.js";
import { entryPlatforms, samePlatform } from "../platforms/entry-platforms.js";
import { formatPlatform, type Platform } from "../registry/image.js";
import { DEFAULT_PLATFORM } from "../registry/platform.js";
import type { RegistryClient } from "../registry/registry-client.js";
import { expandWishlist } from "../wishlist/expand-wishlist.js";
import type { WishlistEntry } from "../wishlist/entry.js";
import { formatImageReference, type ImageReference } from "../wishlist/reference.js";
import type { RepositoryLayout } from "../published/layout.js";
import type { DesiredImage } from "./plan.js";

/** A wishlist line (or one tag of a pattern line) that could not be resolved this run. */
export interface ResolveFailure {
  entry: WishlistEntry;
  reference: string;
  code: string;
  message: string;
}

export interface ResolvedWishlist {
  desired: DesiredImage[];
  failures: ResolveFailure[];
  /**
   * Public-name prefixes to leave untouched this run: names of references whose resolution failed
   * (an exact path) and, for a pattern whose tag list failed, every name of that repository
   * (path up to and including the colon). A registry hiccup must never unpublish an image.
   */
  retainPrefixes: string[];
}

/**
 * Expands tag patterns through the registry's tag lists and resolves every concrete reference to
 * its manifest digest with one HEAD each, `concurrency` at a time. Failures are collected, not
 * thrown: one bad image must not stop the others. With more than one platform wanted (the run's
 * `platforms`, or a line's own), one HEAD still serves every platform of a tag: each becomes a
 * desired image of its own name (see desired-platforms.ts).
 */
export async function resolveDesired(
  entries: readonly WishlistEntry[],
  registry: RegistryClient,
  layout: RepositoryLayout,
  options: {
    concurrency: number;
    logger: Logger;
    signal?: AbortSignal;
    /** The run's platforms, default first (`--platforms`); default just linux/amd64. */
    platforms?: readonly Platform[];
  },
): Promise<ResolvedWishlist> {
  const { logger } = options;
  const runPlatforms = options.platforms ?? [];
  const failures: ResolveFailure[] = [];
  const retainPrefixes: string[] = [];
  const failedRepos = new Set<string>();
  const expanded = await expandWishlist(
    entries,
    async (repo: ImageReference) => {
      try {
        return await registry.listTags(repo, { signal: options.signal });
      } catch (err) {
        const key = `${repo.registry}/${repo.repository}`;
        failedRepos.add(key);
        for (const entry of entries.filter((e) => `${e.ref.registry}/${e.ref.repository}` === key)) {
          for (const d of desiredNames(entry, { ...repo, tag: "x" }, "", runPlatforms, layout)) retainPrefixes.push(namePath(d, layout).slice(0, -1));
        }
        for (const entry of entries.filter((e) => e.tagPattern !== undefined && `${e.ref.registry}/${e.ref.repository}` === key)) {
          failures.push(failureOf(entry, formatImageReference(entry.ref), err));
        }
        warn(logger, "wishlist.tags-failed", `cannot list the tags of ${key}: ${(err as Error).message}`, { repository: key });
        return [];
      }
    },
    { logger },
  );
  const limit = pLimit(options.concurrency);
  const desired: DesiredImage[] = [];
  await Promise.all(
    expanded.map(({ entry, ref }) =>
      limit(async () => {
        const name = formatImageReference(ref);
        try {
          const resolved = await registry.resolve(ref, { signal: options.signal });
          desired.push(...desiredNames(entry, ref, resolved.digest, runPlatforms, layout));
          info(logger, "image.resolved", `${name} → ${resolved.digest}`, { image: name, manifestDigest: resolved.digest });
        } catch (err) {
          failures.push(failureOf(entry, name, err));
          for (const d of desiredNames(entry, ref, "", runPlatforms, layout)) retainPrefixes.push(namePath(d, layout));
          warn(logger, "image.resolve-failed", `${entry.file}:${entry.line}: ${(err as Error).message}`, {
            image: name,
            code: errorCode(err),
          });
        }
      }),
    ),
  );
  // Keep the wishlist's order for stable plans and summaries.
  const order = new Map(expanded.map((e, i) => [`${formatImageReference(e.ref)}`, i]));
  desired.sort((a, b) => (order.get(formatImageReference(a.ref)) ?? 0) - (order.get(formatImageReference(b.ref)) ?? 0));
  return { desired, failures, retainPrefixes };
}

/**
 * The names one resolved tag gets. One platform (the run's default, no list of the line's own):
 * its usual name, as always. Several: the usual name for the line's first platform, and a
 * per-architecture name (`/.multiarch/<arch>/…`) for each platform. All share the tag's one
 * digest (an index's, usually); `platform` is set where the image to fetch is not the run's
 * default one, so the executor picks it from the index.
 */
export function desiredNames(entry: WishlistEntry, ref: ImageReference, manifestDigest: string, run: readonly Platform[], layout: RepositoryLayout): DesiredImage[] {
  const platforms = entryPlatforms(entry.platforms, run);
  if (!platforms.perArch) return [{ entry, ref, manifestDigest }];
  const runDefault = run[0] ?? DEFAULT_PLATFORM;
  const fetch = (p: Platform): { platform?: string } => (samePlatform(p, runDefault) ? {} : { platform: formatPlatform(p) });
  return [
    { entry, ref, manifestDigest, ...fetch(platforms.first) },
    ...platforms.all.map((p) => ({ entry, ref, manifestDigest, ...fetch(p), arch: formatPlatform(p), publicPath: layout.archPath(ref, p) })),
  ];
}

/** The public name a desired image gets: its per-architecture name, else the reference's usual one. */
export function namePath(d: DesiredImage, layout: RepositoryLayout): string {
  return d.publicPath ?? layout.publicPath(d.ref);
}

function failureOf(entry: WishlistEntry, reference: string, err: unknown): ResolveFailure {
  return { entry, reference, code: errorCode(err), message: err instanceof Error ? err.message : String(err) };
}
