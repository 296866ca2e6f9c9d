import { readFile } from "node:fs/promises";
import { WishlistError, type WishlistProblem } from "../errors.js";
import { silentLogger, warn, type Logger } from "../logger.js";
import { parseDuccWishlist, type DuccSettings } from "./ducc-wishlist.js";
import { entryKey, type WishlistEntry, type WishlistParseResult } from "./entry.js";
import { parseOsgWishlist } from "./osg-wishlist.js";

/** The two wishlist syntaxes: OSG's `images.txt` lines, or a CERN DUCC YAML recipe. */
export type WishlistFormat = "osg" | "ducc";

/** The text of one wishlist file, as read from disk or from git. */
export interface WishlistSource {
  file: string;
  text: string;
  /** Forces the syntax; by default it follows the extension, then the content. */
  format?: WishlistFormat;
}

/** A later entry that asks for the same normalised reference as an earlier one. */
export interface WishlistDuplicate {
  entry: WishlistEntry;
  first: WishlistEntry;
}

/** Everything the wishlists say, good and bad: what `plan --offline` reports line by line. */
export interface WishlistCheck {
  /** Unique entries, in file order then line order (the first of duplicates is kept). */
  entries: WishlistEntry[];
  /** Malformed lines, all of them. */
  problems: WishlistProblem[];
  duplicates: WishlistDuplicate[];
  warnings: WishlistProblem[];
  /** The settings of each DUCC recipe, by file. */
  ducc: Map<string, DuccSettings>;
}

/**
 * The syntax of a wishlist: `.yaml`/`.yml` is DUCC, `.txt` (and `.list`) is OSG; any other name is
 * DUCC when the text has top-level `version:` and `input:` keys (no OSG line can look like that,
 * since `input:` is no valid reference), else OSG.
 */
export function detectWishlistFormat(file: string, text: string): WishlistFormat {
  const lower = file.toLowerCase();
  if (lower.endsWith(".yaml") || lower.endsWith(".yml")) return "ducc";
  if (lower.endsWith(".txt") || lower.endsWith(".list")) return "osg";
  return /^input\s*:/m.test(text) && /^version\s*:/m.test(text) ? "ducc" : "osg";
}

/** Parse one wishlist text in its syntax. Pure; see `parseOsgWishlist` and `parseDuccWishlist`. */
export function parseWishlist(source: WishlistSource): WishlistParseResult & { settings?: DuccSettings } {
  const format = source.format ?? detectWishlistFormat(source.file, source.text);
  return format === "ducc" ? parseDuccWishlist(source.file, source.text) : parseOsgWishlist(source.file, source.text);
}

/**
 * Parse several wishlists together (pure; never throws): every malformed line of every file is
 * collected, and an entry whose normalised reference already appeared (in the same file or an
 * earlier one) is set aside as a duplicate of the first.
 */
export function checkWishlists(sources: readonly WishlistSource[]): WishlistCheck {
  const check: WishlistCheck = { entries: [], problems: [], duplicates: [], warnings: [], ducc: new Map() };
  const seen = new Map<string, WishlistEntry>();
  for (const source of sources) {
    const parsed = parseWishlist(source);
    check.problems.push(...parsed.problems);
    check.warnings.push(...parsed.warnings);
    if (parsed.settings) check.ducc.set(source.file, parsed.settings);
    for (const entry of parsed.entries) {
      const key = entryKey(entry);
      const first = seen.get(key);
      if (first) check.duplicates.push({ entry, first });
      else {
        seen.set(key, entry);
        check.entries.push(entry);
      }
    }
  }
  return check;
}

/**
 * Parse several wishlists and return their unique entries. Duplicates and warnings go to the
 * logger (`wishlist.duplicate`, `wishlist.warning`); malformed lines, all of them, are thrown as
 * one WishlistError (exit code 2) listing `file:line: what is wrong`.
 */
export function assembleWishlists(sources: readonly WishlistSource[], logger: Logger = silentLogger): WishlistEntry[] {
  const check = checkWishlists(sources);
  for (const w of check.warnings) {
    warn(logger, "wishlist.warning", `${w.file}:${w.line}: ${w.message}`, { file: w.file, line: w.line });
  }
  for (const { entry, first } of check.duplicates) {
    warn(logger, "wishlist.duplicate", `${entry.file}:${entry.line}: ${entryKey(entry)} already listed at ${first.file}:${first.line}`, {
      file: entry.file,
      line: entry.line,
      reference: entryKey(entry),
      firstFile: first.file,
      firstLine: first.line,
    });
  }
  if (check.problems.length > 0) throw new WishlistError(check.problems);
  return check.entries;
}

/**
 * Read wishlist files. A file that cannot be read is one problem of a WishlistError at line 0,
 * together with every bad line of the files that could be read, so the user sees everything at once.
 */
export async function readWishlistSources(files: readonly string[]): Promise<WishlistSource[]> {
  const sources: WishlistSource[] = [];
  const unreadable: WishlistProblem[] = [];
  for (const file of files) {
    try {
      sources.push({ file, text: await readFile(file, "utf8") });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "file not found" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(code ?? err);
      unreadable.push({ file, line: 0, message: `cannot read wishlist: ${why}` });
    }
  }
  if (unreadable.length > 0) {
    const rest = checkWishlists(sources).problems;
    throw new WishlistError([...unreadable, ...rest]);
  }
  return sources;
}

/** Read wishlist files and assemble them (see `readWishlistSources` and `assembleWishlists`). */
export async function loadWishlists(files: readonly string[], options: { logger?: Logger } = {}): Promise<WishlistEntry[]> {
  return assembleWishlists(await readWishlistSources(files), options.logger);
}
