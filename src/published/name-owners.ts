import { z } from "zod";
import { formatRepositoryJson, parseRepositoryJson } from "../repository-json.js";

/**
 * Who put each public name there: a repository can be fed by several wishlists (a public list and
 * a private one, two projects), and a sync removes only names it owns. The file sits in the
 * images root (`RepositoryLayout.ownersPath`) and changes in the same commit as the names.
 *
 * An owner is an opaque id (`--owner`, by default the GitLab project path or the wishlist's path
 * in its git repository). A name wanted by several owners lists them all and stays until the last
 * one lets it go. A name with no owner recorded (published before owners were kept) belongs to
 * the first owner that syncs: it is adopted when that owner wants it, and removed when it does
 * not, as before.
 */
export const NameOwners = z.object({
  version: z.literal(1),
  /** Public name → owners, sorted, at least one. */
  names: z.record(z.string().startsWith("/"), z.array(z.string().min(1)).min(1)),
});
export type NameOwners = z.infer<typeof NameOwners>;

/** Owners by public name, as the plan works with them. */
export type OwnerMap = ReadonlyMap<string, readonly string[]>;

/** The file's content for `owners` (names sorted, owners sorted; names without owners left out). */
export function assembleNameOwners(owners: OwnerMap): NameOwners {
  const names: NameOwners["names"] = {};
  for (const name of [...owners.keys()].sort()) {
    const list = [...new Set(owners.get(name) ?? [])].sort();
    if (list.length > 0) names[name] = list;
  }
  return { version: 1, names };
}

/** The file's bytes: pretty JSON with a final newline. */
export function formatNameOwners(owners: NameOwners): Buffer {
  return formatRepositoryJson(NameOwners.parse(owners));
}

/** Parse the file's bytes; throws RepositoryError naming `where` when it is not valid. */
export function parseNameOwners(bytes: Buffer | string, where: string): Map<string, string[]> {
  const parsed = parseRepositoryJson(NameOwners, bytes, "name owners", where);
  return new Map(Object.entries(parsed.names));
}

/** Whether two owner maps say the same (order of names and owners aside). */
export function sameOwners(a: OwnerMap, b: OwnerMap): boolean {
  return JSON.stringify(assembleNameOwners(a)) === JSON.stringify(assembleNameOwners(b));
}
