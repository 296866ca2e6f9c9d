import type { RepositoryLayout } from "../published/layout.js";
import { assemblePlan, countTags, type DesiredImage, type Plan } from "../sync/plan.js";
import type { PublishedState } from "../published/published-state.js";

/** Options of one event plan. */
export interface EventPlanOptions {
  /** The public names the event concerns (resolved or not): the plan's only rows. */
  names: readonly string[];
  /** As `sync --owner`: the names this run sets are recorded as its own. */
  owner?: string;
  /** The run's default platform, `os/arch[/variant]` (see PlanOptions). */
  defaultPlatform?: string;
}

/**
 * Pure: the plan of a run for a registry event. It is the full plan with every published name the
 * event does not set retained, then cut down to the event's names, so the other names are neither
 * resolved nor touched, and no name is removed. The removal schedule is left exactly as it is:
 * nothing is deleted (removals are the wishlist's job, and a notification anyone with the trigger
 * URL can send must not make one), and an image a moved tag leaves is scheduled by the next full
 * sync, never earlier than a full sync would. Leaving it alone also makes the event idempotent:
 * the run after the one that moved a tag, which only then knows the old image lost its name,
 * finds nothing to change.
 */
export function assembleEventPlan(desired: readonly DesiredImage[], state: PublishedState, layout: RepositoryLayout, options: EventPlanOptions): Plan {
  const wanted = new Set(desired.map((d) => layout.publicPath(d.ref)));
  const retain = [...state.tags.keys(), ...state.dangling.keys()].filter((name) => !wanted.has(name));
  const full = assemblePlan(desired, state, layout, {
    retain,
    ...(options.owner !== undefined ? { owner: options.owner } : {}),
    ...(options.defaultPlatform !== undefined ? { defaultPlatform: options.defaultPlatform } : {}),
  });
  const names = new Set(options.names);
  const tags = full.tags.filter((t) => names.has(t.publicPath));
  return {
    ...full,
    tags,
    imageRemovals: [],
    schedule: state.schedule,
    summary: {
      ...countTags(tags),
      convert: full.conversions.length,
      removeImages: 0,
      waiting: 0,
    },
  };
}
