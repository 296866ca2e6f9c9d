import type { RepositoryReader } from "../cvmfs/repository/repository-reader.js";
import type { Logger } from "../logger.js";
import { formatPlatform, type Platform } from "../registry/image.js";
import type { RegistryClient } from "../registry/registry-client.js";
import type { SyncPlan } from "../sync/get-sync-plan.js";
import type { RepositoryLayout } from "../published/layout.js";
import type { DesiredImage } from "../sync/plan.js";
import { assemblePublishedState, emptyPublishedState } from "../published/published-state.js";
import { desiredNames, namePath, resolveDesired } from "../sync/resolve-desired.js";
import type { WishlistEntry } from "../wishlist/entry.js";
import type { ExpandedEntry } from "../wishlist/expand-wishlist.js";
import { withDigest } from "../wishlist/reference.js";
import { assembleEventPlan } from "./assemble-event-plan.js";
import { describeEventTargets, matchEventTargets, type EventTargets } from "./event-targets.js";
import { assembleEventSnapshot, readEventSnapshot, withImageDirs } from "./read-event-state.js";
import { readRegistryEvent } from "./read-registry-event.js";
import { EVENT_FORMAT_NAMES } from "./registry-event.js";

/**
 * The composition behind `plan --event` and `sync --event`. Costs what the event names: no walk
 * of the repository and no index (`readEventSnapshot`), one HEAD per target (the payload's digest
 * is never used), no tag list, nothing asked about any other wishlist line. For a target whose tag
 * moved, the image's config is fetched (a manifest and a config blob, which the conversion reads
 * again) so that an image already published under another name is reused rather than converted
 * again. A target whose HEAD fails keeps what it had and is in `failures`. The state has no index:
 * execute the plan with `index: "leave"`.
 */
export async function getEventPlan(
  targets: readonly ExpandedEntry[],
  deps: { registry: RegistryClient; reader: RepositoryReader | undefined; layout: RepositoryLayout },
  options: {
    platform: Platform;
    /** The run's platforms, default first: a line published per architecture has a name per platform. */
    platforms?: readonly Platform[];
    concurrency: number;
    logger: Logger;
    signal?: AbortSignal;
    owner?: string;
  },
): Promise<SyncPlan> {
  const { reader, layout, registry } = deps;
  const run = options.platforms ?? [options.platform];
  const names = targets.flatMap((t) => desiredNames(t.entry, t.ref, "", run, layout).map((d) => namePath(d, layout)));
  const first = reader ? await readEventSnapshot(reader, layout, names) : undefined;
  // What the names point at now (the owners file, which grows with the repository, is parsed once, below).
  const images = first ? { ...first, files: Object.fromEntries(Object.entries(first.files).filter(([file]) => file !== layout.ownersPath)) } : undefined;
  const before = images ? assemblePublishedState(layout, assembleEventSnapshot(layout, images)) : emptyPublishedState();
  // Each target's entry is concrete (no pattern), so resolving asks for no tag list.
  const resolved = await resolveDesired(
    targets.map((t) => t.entry),
    registry,
    layout,
    { concurrency: options.concurrency, logger: options.logger, platforms: run, ...(options.signal ? { signal: options.signal } : {}) },
  );
  const desired = await Promise.all(
    resolved.desired.map(async (d): Promise<DesiredImage> => {
      const dir = before.tags.get(namePath(d, layout));
      const previous = dir === undefined ? undefined : before.images.get(layout.configHexOf(dir) ?? "");
      if (previous?.metadata?.manifestDigest === d.manifestDigest) return d;
      try {
        const image = await registry.image(withDigest(d.ref, d.manifestDigest), d.platform ?? options.platform, options.signal ? { signal: options.signal } : {});
        return { ...d, configDigest: image.configDigest };
      } catch {
        return d; // the conversion meets the same error and reports it with the image
      }
    }),
  );
  const seen = reader && first ? await withImageDirs(reader, first, desired.flatMap((d) => (d.configDigest ? [layout.imageDir(d.configDigest)] : []))) : undefined;
  const state = seen ? assemblePublishedState(layout, assembleEventSnapshot(layout, seen)) : emptyPublishedState();
  const plan = assembleEventPlan(desired, state, layout, {
    names,
    defaultPlatform: formatPlatform(run[0] ?? options.platform),
    ...(options.owner !== undefined ? { owner: options.owner } : {}),
  });
  return { plan, state, failures: resolved.failures };
}

/** What a run learns from the event file before touching any registry or repository. */
export interface EventRun extends EventTargets {
  /** The run's first line: what it syncs, or why there is nothing to do. */
  line: string;
}

/**
 * Reads the notification in `file` and matches it against the wishlist (no network, no
 * repository): a run whose `targets` are empty has nothing to do and should say `line` and stop.
 * Throws EventError for an unreadable or unknown notification.
 */
export async function getEventTargets(file: string, entries: readonly WishlistEntry[]): Promise<EventRun> {
  const event = await readRegistryEvent(file);
  const matched = matchEventTargets(event.pushed, entries);
  return { ...matched, line: describeEventTargets(EVENT_FORMAT_NAMES[event.format], event.ignored, matched) };
}
