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
  /**
   * Platforms this line wants instead of the run's (`# platforms=linux/amd64,linux/arm64` after an
   * OSG line, `platforms:` in a DUCC recipe), as written (`os/arch[/variant]`); checked against the
   * platform grammar here and normalised by the registry's platform rules where they are used.
   */
  readonly platforms?: readonly string[];
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

const PLATFORM = /^[a-z0-9_.-]+\/[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)?$/;

/**
 * Parse a platform list (`linux/amd64,linux/arm64/v8`, commas or spaces). Returns the platforms,
 * or a message naming the first malformed one; an empty list is malformed.
 */
export function parsePlatformList(text: string): { platforms: string[] } | { error: string } {
  const platforms = text.split(/[\s,]+/).filter((p) => p !== "").map((p) => p.toLowerCase());
  if (platforms.length === 0) return { error: "an empty platform list" };
  const bad = platforms.find((p) => !PLATFORM.test(p));
  if (bad !== undefined) return { error: `platform ${quoted(bad)} is not os/arch[/variant], e.g. linux/arm64` };
  return { platforms: [...new Set(platforms)] };
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
