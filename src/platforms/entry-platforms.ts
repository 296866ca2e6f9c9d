import type { Platform } from "../registry/image.js";
import { DEFAULT_PLATFORM, normalizePlatform, parsePlatform } from "../registry/platform.js";
import { formatPlatform } from "../registry/image.js";

/** Which platforms one wishlist line is published for, and whether it needs per-architecture names. */
export interface EntryPlatforms {
  /** The platform of the line's usual public name: the line's first, else the run's default. */
  first: Platform;
  /** Every platform wanted, first one first, normalised, without duplicates. */
  all: Platform[];
  /**
   * True when the line is published per architecture: more than one platform, or a platform other
   * than the run's default (its usual name alone would not say which platform it holds).
   */
  perArch: boolean;
}

/**
 * Pure: the platforms of a line, from its own list (`# platforms=…`, DUCC `platforms:`) or else
 * the run's (`--platforms`, default first). A run that wants only its default platform, for a
 * line without a list of its own, keeps today's single name.
 */
export function entryPlatforms(own: readonly string[] | undefined, run: readonly Platform[]): EntryPlatforms {
  const runDefault = normalizePlatform(run[0] ?? DEFAULT_PLATFORM);
  const wanted = own && own.length > 0 ? own.map(parsePlatform) : run.length > 0 ? run.map(normalizePlatform) : [runDefault];
  const seen = new Set<string>();
  const all = wanted.filter((p) => {
    const key = formatPlatform(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const first = all[0] ?? runDefault;
  return { first, all, perArch: all.length > 1 || !samePlatform(first, runDefault) };
}

/** Whether two platforms are the same once normalised (`linux/aarch64` is `linux/arm64/v8`). */
export function samePlatform(a: Platform, b: Platform): boolean {
  return formatPlatform(normalizePlatform(a)) === formatPlatform(normalizePlatform(b));
}
