import { z } from "zod";
import { ConfigError } from "../errors.js";
import { formatRepositoryJson, parseRepositoryJson } from "../repository-json.js";

/**
 * The grace period (`sync --keep-removed DAYS`): an image directory that loses its last public
 * name is not deleted at once, because jobs may still run from it (a tag moved, a line was
 * removed by mistake). It is scheduled for removal at a date; a later run deletes it once the date
 * has passed, unless a name points at it again by then. The schedule is a JSON file in the
 * repository itself (`RepositoryLayout.removalSchedulePath`), so any runner can pick it up.
 */
export const RemovalSchedule = z.object({
  version: z.literal(1),
  /** By config digest hex. */
  images: z.record(
    z.string().regex(/^[a-f0-9]{32,}$/),
    z.object({
      /** When the image lost its last name (ISO 8601). */
      untaggedAt: z.iso.datetime({ offset: true }),
      /** Not removed before this instant (ISO 8601). */
      removeAfter: z.iso.datetime({ offset: true }),
      /** The public names it had, for the record and the plan table. */
      lastNames: z.array(z.string()),
    }),
  ),
});
export type RemovalSchedule = z.infer<typeof RemovalSchedule>;
/** One image waiting for its removal date. */
export type ScheduledRemoval = RemovalSchedule["images"][string];

/** A schedule with nothing in it: what a repository without the file has. */
export function emptyRemovalSchedule(): RemovalSchedule {
  return { version: 1, images: {} };
}

/** Inputs of one scheduling decision. */
export interface RemovalScheduleUpdate {
  /** Hex of every image directory the repository holds now. */
  present: Iterable<string>;
  /** Hex of the image directories that no public name will point at after this run. */
  untagged: Iterable<string>;
  /** The last names of newly untagged images, by hex (kept in the schedule for the record). */
  lastNames?: ReadonlyMap<string, readonly string[]>;
  now: Date;
  /** Grace period in days (0 removes at once). */
  keepDays: number;
}

/** The new schedule, and which image directories are due for removal in this run. */
export interface RemovalScheduleResult {
  /** Still waiting: keep in the repository's schedule file. Due images are already left out. */
  schedule: RemovalSchedule;
  /** Hex of image directories to delete now, sorted. */
  due: string[];
}

/**
 * Pure: update the schedule for one run. An image that has a name again is taken off the
 * schedule; a newly untagged image is put on it with `removeAfter = now + keepDays`; an entry for
 * a directory that is gone is dropped; an untagged image whose date has passed (`removeAfter <=
 * now`) is due, and leaves the schedule (the caller deletes it in the same publication).
 * Shortening `keepDays` does not bring earlier dates forward: a date once promised is kept.
 */
export function updateRemovalSchedule(previous: RemovalSchedule, update: RemovalScheduleUpdate): RemovalScheduleResult {
  if (!Number.isFinite(update.keepDays) || update.keepDays < 0) {
    throw new ConfigError(`--keep-removed ${update.keepDays}: a number of days, 0 or more`);
  }
  const present = new Set(update.present);
  const untagged = new Set(update.untagged);
  const now = update.now.getTime();
  const images: RemovalSchedule["images"] = {};
  const due: string[] = [];
  for (const hex of [...untagged].sort()) {
    if (!present.has(hex)) continue;
    const entry: ScheduledRemoval = previous.images[hex] ?? {
      untaggedAt: update.now.toISOString(),
      removeAfter: new Date(now + update.keepDays * 86_400_000).toISOString(),
      lastNames: [...(update.lastNames?.get(hex) ?? [])].sort(),
    };
    if (Date.parse(entry.removeAfter) <= now) due.push(hex);
    else images[hex] = entry;
  }
  return { schedule: { version: 1, images }, due };
}

/** The file's bytes: pretty JSON, keys sorted, final newline. */
export function formatRemovalSchedule(schedule: RemovalSchedule): Buffer {
  const images = Object.fromEntries(Object.entries(schedule.images).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return formatRepositoryJson({ version: 1, images });
}

/** Parse the file's bytes; throws RepositoryError naming `where` when it is malformed. */
export function parseRemovalSchedule(bytes: Buffer | string, where: string): RemovalSchedule {
  return parseRepositoryJson(RemovalSchedule, bytes, "removal schedule", where);
}
