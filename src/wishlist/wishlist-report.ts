import { entryKey } from "./entry.js";
import type { WishlistCheck } from "./load-wishlists.js";

/**
 * One line of a wishlist check, as `plan --offline --format json` prints it: every entry with its
 * normalised reference, every bad line with its error, every duplicate with the line it repeats.
 */
export interface WishlistCheckRow {
  file: string;
  line: number;
  /** Normalised reference (for a pattern entry, with the pattern as its tag). */
  reference?: string;
  /** The tag pattern, for entries expanded later through the registry's tag list. */
  pattern?: string;
  /** `file:line` of the first entry asking for the same reference. */
  duplicateOf?: string;
  /** What is wrong with the line; set on bad lines only. */
  error?: string;
  /** Not fatal, worth telling (unknown keys of a DUCC recipe). */
  warning?: string;
}

/** Flatten a check into rows ordered by file (in the order given) then line. Pure. */
export function wishlistCheckRows(check: WishlistCheck, fileOrder: readonly string[] = []): WishlistCheckRow[] {
  const rows: WishlistCheckRow[] = [
    ...check.entries.map((e) => ({ file: e.file, line: e.line, reference: entryKey(e), ...(e.tagPattern ? { pattern: e.tagPattern } : {}) })),
    ...check.duplicates.map(({ entry, first }) => ({
      file: entry.file,
      line: entry.line,
      reference: entryKey(entry),
      ...(entry.tagPattern ? { pattern: entry.tagPattern } : {}),
      duplicateOf: `${first.file}:${first.line}`,
    })),
    ...check.problems.map((p) => ({ file: p.file, line: p.line, error: p.message })),
    ...check.warnings.map((w) => ({ file: w.file, line: w.line, warning: w.message })),
  ];
  const order = new Map<string, number>();
  for (const f of [...fileOrder, ...rows.map((r) => r.file)]) if (!order.has(f)) order.set(f, order.size);
  return rows.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line);
}
