import picomatch from "picomatch";
import { ImageReferenceError, type WishlistProblem } from "../errors.js";
import { formatImageReference, invalidReference, parseImageReference, quoted, splitReferenceText, type ImageReference } from "./reference.js";

/**
 * One entry of a wishlist: an image reference (or a tag pattern to expand later) with the file
 * and line it came from, so every later message can point back at the line to fix.
 */
export interface WishlistEntry {
  /** The wishlist file as it was named on the command line (not resolved). */
  readonly file: string;
  /** 1-based line number in `file`. */
  readonly line: number;
  /** The reference as written, trimmed and without its comment. */
  readonly text: string;
  /**
   * The normalised reference. For a pattern entry its `tag` is the pattern itself (e.g. `v1.*`),
   * kept so that `formatImageReference` prints the entry as the user meant it.
   */
  readonly ref: ImageReference;
  /** Set when the tag is a glob (`*`, `?`, `[…]`, `{a,b}`) to match against the registry's tags. */
  readonly tagPattern?: string;
}

/** What parsing one wishlist file yields: every good entry, and every bad line (never thrown). */
export interface WishlistParseResult {
  entries: WishlistEntry[];
  problems: WishlistProblem[];
  /** Not fatal, worth telling the author (unknown keys, unused settings). */
  warnings: WishlistProblem[];
}

/** Characters a tag pattern may hold: the tag alphabet plus the glob operators picomatch knows. */
const TAG_PATTERN = /^[\w.*?[\]{},!^-]{1,128}$/;

/**
 * The canonical key of an entry: its normalised reference (pattern included). Two entries with
 * the same key ask for the same thing, wherever they are written.
 */
export function entryKey(entry: Pick<WishlistEntry, "ref">): string {
  return formatImageReference(entry.ref);
}

/**
 * Parse one reference as written in a wishlist into an entry. A tag that is a glob is kept as a
 * pattern (validated, never matched here); everything else goes through `parseImageReference`.
 * Throws ImageReferenceError with the reason.
 */
export function parseEntryReference(file: string, line: number, text: string): WishlistEntry {
  const { name: base, tag, digest } = splitReferenceText(text);
  if (tag !== undefined && picomatch.scan(tag).isGlob) {
    if (digest !== undefined) throw invalidReference(text, "a tag pattern cannot be pinned to a digest");
    if (!TAG_PATTERN.test(tag)) throw invalidReference(text, `malformed tag pattern ${quoted(tag)}`);
    // Parse the repository part with a placeholder tag, then put the pattern back.
    const parsed = parseImageReference(`${base}:latest`);
    return { file, line, text, ref: { ...parsed, tag }, tagPattern: tag };
  }
  return { file, line, text, ref: parseImageReference(text) };
}

/** Whether `tag` matches an entry's pattern, with fnmatch-like semantics (as OSG's sync script uses). */
export function tagMatcher(pattern: string): (tag: string) => boolean {
  return picomatch(pattern, { dot: true, nocase: false });
}

/** Turn a parse failure into a problem line; anything not raised on purpose is rethrown. */
export function problemFrom(file: string, line: number, err: unknown): WishlistProblem {
  if (err instanceof ImageReferenceError) return { file, line, message: err.message };
  throw err;
}
