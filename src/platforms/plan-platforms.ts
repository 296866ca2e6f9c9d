import pLimit from "p-limit";
import { errorCode } from "../errors.js";
import { warn, type Logger } from "../logger.js";
import { formatPlatform, type Platform } from "../registry/image.js";
import { normalizePlatform, parsePlatform } from "../registry/platform.js";
import type { RegistryClient } from "../registry/registry-client.js";
import { parseImageReference } from "../wishlist/reference.js";
import { fetchPlatformDetails, type PlatformDetail } from "./index-platforms.js";

/**
 * The plan's per-platform facts, fetched for review before any sync: for each tag published per
 * architecture whose index moved (or whose names are new), each wanted platform's own manifest
 * digest and download size, and the wanted platforms the index lacks. Typed structurally so this
 * room needs nothing of the plan module (src/sync imports platforms, never the other way).
 */

/** The fields of a planned name this module reads. */
export interface PlatformRow {
  action: "add" | "update" | "keep" | "remove";
  publicPath: string;
  reference?: string;
  manifestDigest?: string;
  /** For a per-architecture name: the platform it stands for. */
  arch?: string;
  /** The platform fetched, when not the run's default. */
  platform?: string;
  convert: boolean;
}

/** The fields this module fills in. */
export interface PlatformFacts {
  /** The digest of the platform's own manifest in the index. */
  platformManifestDigest?: string;
  /** Compressed config and layers of that manifest: what converting it downloads. */
  compressedBytes?: number;
  /** Why the name will not be published this run (the index lacks its platform). */
  platformNote?: string;
}

/** One index to fetch: a tag's reference and digest, and the platforms wanted of it. */
export interface PlatformQuery {
  key: string;
  reference: string;
  manifestDigest: string;
  wanted: string[];
}

const keyOf = (t: PlatformRow): string => `${t.reference ?? ""} ${t.manifestDigest ?? ""}`;
const moving = (t: PlatformRow): boolean => t.action === "add" || t.action === "update";

/**
 * Pure: the indexes worth one GET each. Only tags with per-architecture names, and only when one
 * of those names moves (`add`/`update`: the index digest changed, or the names are new); an
 * unchanged index stays a HEAD alone, as in `sync`.
 */
export function platformQueries(tags: readonly PlatformRow[]): PlatformQuery[] {
  const queries = new Map<string, PlatformQuery>();
  for (const t of tags) {
    if (t.arch === undefined || !moving(t) || t.reference === undefined || t.manifestDigest === undefined) continue;
    const key = keyOf(t);
    const q = queries.get(key) ?? { key, reference: t.reference, manifestDigest: t.manifestDigest, wanted: [] };
    if (!q.wanted.includes(t.arch)) q.wanted.push(t.arch);
    queries.set(key, q);
  }
  return [...queries.values()];
}

/**
 * Pure: each moving name of a fetched index gets its platform's facts; the usual name stands for
 * its fetch platform (else the run's default). A name whose platform the index lacks gets the note
 * and no conversion, since `sync` will skip it.
 */
export function withPlatformFacts<T extends PlatformRow>(tags: readonly T[], details: ReadonlyMap<string, PlatformDetail[]>, runDefault: Platform): (T & PlatformFacts)[] {
  const fallback = formatPlatform(normalizePlatform(runDefault));
  return tags.map((t) => {
    const found = moving(t) ? details.get(keyOf(t)) : undefined;
    const platform = t.arch ?? t.platform ?? fallback;
    const d = found?.find((p) => p.platform === platform);
    if (!d) return t;
    if (d.missing !== undefined) return { ...t, convert: false, platformNote: d.missing };
    return { ...t, ...(d.manifestDigest ? { platformManifestDigest: d.manifestDigest } : {}), ...(d.compressedBytes !== undefined ? { compressedBytes: d.compressedBytes } : {}) };
  });
}

/** The parts of a plan this module rewrites. */
interface PlanShape<T extends PlatformRow> {
  tags: T[];
  conversions: { publicPaths: string[] }[];
  summary: { convert: number };
}

/**
 * `plan`'s composition: fetch the queried indexes (`concurrency` at a time) and return the plan
 * with each name's platform facts, and without the conversions only missing platforms wanted. An
 * index that cannot be fetched is a warning, and its names keep what the HEAD told.
 */
export async function describePlanPlatforms<T extends PlatformRow, P extends PlanShape<T>>(
  plan: P,
  registry: Pick<RegistryClient, "manifest" | "blob">,
  options: { runDefault: Platform; concurrency: number; logger: Logger; signal?: AbortSignal },
): Promise<P & { tags: (T & PlatformFacts)[] }> {
  const limit = pLimit(Math.max(1, options.concurrency));
  const details = new Map<string, PlatformDetail[]>();
  const signal = options.signal ? { signal: options.signal } : {};
  await Promise.all(
    platformQueries(plan.tags).map((q) =>
      limit(async () => {
        try {
          details.set(q.key, await fetchPlatformDetails(registry, parseImageReference(q.reference), q.manifestDigest, q.wanted.map(parsePlatform), signal));
        } catch (err) {
          warn(options.logger, "plan.platforms-failed", `${q.reference}: cannot list the index's platforms: ${(err as Error).message}`, { image: q.reference, code: errorCode(err) });
        }
      }),
    ),
  );
  const tags = withPlatformFacts(plan.tags, details, options.runDefault);
  const missing = new Set(tags.filter((t) => t.platformNote !== undefined).map((t) => t.publicPath));
  const conversions = plan.conversions.filter((c) => !c.publicPaths.every((p) => missing.has(p)));
  return { ...plan, tags, conversions, summary: { ...plan.summary, convert: conversions.length } };
}
