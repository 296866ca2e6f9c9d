import type { ExpandedEntry } from "../wishlist/expand-wishlist.js";
import { tagMatcher, type WishlistEntry } from "../wishlist/entry.js";
import { formatImageReference, type ImageReference } from "../wishlist/reference.js";

/** What an event asks of a wishlist: the lines it concerns, and the pushes no line names. */
export interface EventTargets {
  /** Concrete references to resolve, each with the wishlist line that wants it (a pattern line's tag made concrete). */
  targets: ExpandedEntry[];
  /** Pushed references that no wishlist line names: nothing is asked of any registry for them. */
  unlisted: ImageReference[];
}

/**
 * Pure: matches the references an event says were pushed against the wishlist. A reference counts
 * when a line names exactly it (same registry, repository and tag, no digest) or when a tag
 * pattern of that repository matches its tag; an explicit line wins over a pattern, the first
 * line over later ones, as in `expandWishlist`. A line pinned to a digest never counts: a tag push
 * cannot move it. Each target's `entry` is the line itself with the pattern replaced by the
 * pushed tag, so resolving it costs one HEAD and no tag list.
 */
export function matchEventTargets(pushed: readonly ImageReference[], entries: readonly WishlistEntry[]): EventTargets {
  const targets: ExpandedEntry[] = [];
  const unlisted: ImageReference[] = [];
  const repositoryOf = (ref: ImageReference): string => `${ref.registry}/${ref.repository}`;
  // By repository, in wishlist order: an event may name many tags, a wishlist many lines.
  const lines = new Map<string, WishlistEntry[]>();
  for (const e of entries) {
    if (e.ref.digest !== undefined) continue;
    const key = repositoryOf(e.ref);
    const list = lines.get(key);
    if (list) list.push(e);
    else lines.set(key, [e]);
  }
  for (const ref of pushed) {
    const candidates = lines.get(repositoryOf(ref)) ?? [];
    const entry =
      candidates.find((e) => e.tagPattern === undefined && e.ref.tag === ref.tag) ??
      candidates.find((e) => e.tagPattern !== undefined && ref.tag !== undefined && tagMatcher(e.tagPattern)(ref.tag));
    if (entry === undefined) {
      unlisted.push(ref);
      continue;
    }
    const concrete: ImageReference = { registry: ref.registry, repository: ref.repository, ...(ref.tag !== undefined ? { tag: ref.tag } : {}) };
    const { tagPattern: _pattern, ...line } = entry;
    targets.push({ entry: { ...line, ref: concrete }, ref: concrete });
  }
  return { targets, unlisted };
}

/** `a/b:1, c/d:2 and 3 more`: references for one log line (they parsed, so they hold no control bytes). */
export function listReferences(refs: readonly ImageReference[], max = 3): string {
  const shown = refs.slice(0, max).map(formatImageReference).join(", ");
  return refs.length > max ? `${shown} and ${refs.length - max} more` : shown;
}

/**
 * The one line a run for an event says first: which format, what it syncs, what it leaves alone
 * and why (`distribution registry notification: no tag pushed (2 × a blob push); nothing to sync`).
 */
export function describeEventTargets(format: string, ignored: readonly string[], matched: EventTargets): string {
  const counts = new Map<string, number>();
  for (const phrase of ignored) counts.set(phrase, (counts.get(phrase) ?? 0) + 1);
  const why = [...counts].map(([phrase, n]) => (n > 1 ? `${n} × ${phrase}` : phrase)).join(", ");
  const unlisted = matched.unlisted.length > 0 ? `${listReferences(matched.unlisted)} not on the wishlist` : "";
  if (matched.targets.length > 0) {
    return `${format}: syncing ${listReferences(matched.targets.map((t) => t.ref))}${unlisted ? `; ${unlisted}` : ""}`;
  }
  if (unlisted) return `${format}: ${unlisted}; nothing to sync`;
  return `${format}: no tag pushed${why ? ` (${why})` : ""}; nothing to sync`;
}
