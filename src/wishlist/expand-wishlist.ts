import { silentLogger, warn, type Logger } from "../logger.js";
import { entryKey, tagMatcher, type WishlistEntry } from "./entry.js";
import { formatImageReference, type ImageReference } from "./reference.js";

/** One concrete image the wishlist asks for: a reference with a real tag (or digest). */
export interface ExpandedEntry {
  /** The wishlist line it comes from (a pattern line yields one ExpandedEntry per matching tag). */
  entry: WishlistEntry;
  /** Concrete: its tag is a real tag, never a pattern. */
  ref: ImageReference;
}

/**
 * Lists the tags of a repository (`ref` carries registry and repository; tag and digest are
 * meaningless). Supplied by the registry client; may throw a RegistryError, which propagates.
 */
export type ListTags = (repository: ImageReference) => Promise<string[]>;

/**
 * Expand tag patterns through the registry's tag lists. Plain entries pass through unchanged and
 * come first, so a tag that is both listed explicitly and matched by a pattern keeps the explicit
 * line (and its file:line); each repository's tags are listed once however many patterns name it.
 * Matches of one pattern are sorted by tag for a stable plan. A pattern that matches nothing is
 * reported (`wishlist.pattern-empty`), not an error: the repository may simply have no such tag yet.
 */
export async function expandWishlist(
  entries: readonly WishlistEntry[],
  listTags: ListTags,
  options: { logger?: Logger } = {},
): Promise<ExpandedEntry[]> {
  const logger = options.logger ?? silentLogger;
  const out: ExpandedEntry[] = [];
  const taken = new Set<string>();
  for (const entry of entries) {
    if (entry.tagPattern !== undefined) continue;
    out.push({ entry, ref: entry.ref });
    taken.add(entryKey(entry));
  }

  const tagLists = new Map<string, Promise<string[]>>();
  for (const entry of entries) {
    if (entry.tagPattern === undefined) continue;
    const repoKey = `${entry.ref.registry}/${entry.ref.repository}`;
    let tags = tagLists.get(repoKey);
    if (!tags) {
      const { registry, repository } = entry.ref;
      tags = listTags({ registry, repository });
      tagLists.set(repoKey, tags);
    }
    const matches = tagMatcher(entry.tagPattern);
    const matched = [...new Set(await tags)].filter((t) => matches(t)).sort();
    if (matched.length === 0) {
      warn(logger, "wishlist.pattern-empty", `${entry.file}:${entry.line}: no tag of ${repoKey} matches "${entry.tagPattern}"`, {
        file: entry.file,
        line: entry.line,
        reference: entryKey(entry),
      });
    }
    for (const tag of matched) {
      const ref: ImageReference = { registry: entry.ref.registry, repository: entry.ref.repository, tag };
      const key = formatImageReference(ref);
      if (taken.has(key)) continue;
      taken.add(key);
      out.push({ entry, ref });
    }
  }
  return out;
}
