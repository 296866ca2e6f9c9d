import type { RepositoryReader } from "../cvmfs/repository/repository-reader.js";
import type { Logger } from "../logger.js";
import { formatPlatform, type Platform } from "../registry/image.js";
import type { RegistryClient } from "../registry/registry-client.js";
import type { WishlistEntry } from "../wishlist/entry.js";
import type { RepositoryLayout } from "../published/layout.js";
import { assemblePlan, type Plan } from "./plan.js";
import { publishedTreeSource } from "../published/published-source.js";
import { readPublishedState, type PublishedState } from "../published/published-state.js";
import { resolveDesired, type ResolveFailure } from "./resolve-desired.js";

export interface SyncPlan {
  plan: Plan;
  state: PublishedState;
  failures: ResolveFailure[];
}

/**
 * The composition behind `plan` and `sync`: the published state read from the repository, the
 * wishlist resolved against the registries (one HEAD per tag), and the pure plan between them.
 * Names whose resolution failed are retained, so a registry outage never unpublishes anything.
 */
export async function getSyncPlan(
  entries: readonly WishlistEntry[],
  deps: { registry: RegistryClient; reader: RepositoryReader; layout: RepositoryLayout },
  options: {
    keepRemovedDays: number;
    concurrency: number;
    logger: Logger;
    signal?: AbortSignal;
    now?: Date;
    owner?: string;
    /** The run's platforms, default first (`--platforms`). */
    platforms?: readonly Platform[];
  },
): Promise<SyncPlan> {
  const state = await readPublishedState(publishedTreeSource(deps.reader), deps.layout);
  const resolved = await resolveDesired(entries, deps.registry, deps.layout, {
    concurrency: Math.max(options.concurrency, 8),
    logger: options.logger,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.platforms ? { platforms: options.platforms } : {}),
  });
  const retain = [...state.tags.keys()].filter((name) =>
    resolved.retainPrefixes.some((prefix) => name === prefix || (prefix.endsWith(":") && name.startsWith(prefix))),
  );
  const plan = assemblePlan(resolved.desired, state, deps.layout, {
    keepRemovedDays: options.keepRemovedDays,
    retain,
    ...(options.now ? { now: options.now } : {}),
    ...(options.owner !== undefined ? { owner: options.owner } : {}),
    ...(options.platforms?.[0] ? { defaultPlatform: formatPlatform(options.platforms[0]) } : {}),
  });
  return { plan, state, failures: resolved.failures };
}
