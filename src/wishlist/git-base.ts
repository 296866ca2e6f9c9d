import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { ConfigError, WishlistError } from "../errors.js";
import { entryKey, type WishlistEntry } from "./entry.js";
import { checkWishlists, type WishlistCheck, type WishlistSource } from "./load-wishlists.js";

/** How the wishlists changed between a base revision and now, entry by entry. */
export interface WishlistDiff {
  /** In the new wishlists, not in the old: file:line of the new side. */
  added: WishlistEntry[];
  /** In the old wishlists, not in the new: file:line of the old side (the line that was deleted). */
  removed: WishlistEntry[];
  /** In both (compared by normalised reference); file:line of the new side. */
  unchanged: WishlistEntry[];
}

/**
 * Compare two sets of entries by normalised reference (`entryKey`), so moving a line, changing
 * its comment or writing `centos:7` as `docker.io/library/centos:7` is no change. Output keeps
 * the order of its side.
 */
export function diffWishlists(oldEntries: readonly WishlistEntry[], newEntries: readonly WishlistEntry[]): WishlistDiff {
  const oldKeys = new Set(oldEntries.map(entryKey));
  const newKeys = new Set(newEntries.map(entryKey));
  return {
    added: newEntries.filter((e) => !oldKeys.has(entryKey(e))),
    removed: oldEntries.filter((e) => !newKeys.has(entryKey(e))),
    unchanged: newEntries.filter((e) => oldKeys.has(entryKey(e))),
  };
}

/**
 * Read each wishlist file as it was at git revision `rev` (`git show REV:./path`, relative to
 * `cwd`, the working tree the files are named from). A file that did not exist at `rev` reads as
 * empty: everything in it is new. The revision itself must exist, else ConfigError (exit 2).
 * The returned sources keep the file names as given, so diffs line up with the current files.
 */
export async function readWishlistsAtRevision(
  rev: string,
  files: readonly string[],
  options: { cwd?: string } = {},
): Promise<WishlistSource[]> {
  const cwd = options.cwd ?? process.cwd();
  if (rev.startsWith("-")) throw new ConfigError(`--base ${rev}: not a git revision`);
  const verify = await execa("git", ["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], { cwd, reject: false });
  if (verify.exitCode !== 0) {
    throw new ConfigError(`--base ${rev}: no such git revision in ${cwd}${verify.stderr ? ` (${verify.stderr.trim()})` : ""}`);
  }
  const commit = verify.stdout.trim();
  const sources: WishlistSource[] = [];
  for (const file of files) {
    const rel = path.relative(cwd, path.resolve(cwd, file)).split(path.sep).join("/");
    if (rel.startsWith("../")) throw new ConfigError(`--base: wishlist ${file} is outside the git working tree ${cwd}`);
    const shown = await execa("git", ["show", `${commit}:./${rel}`], { cwd, reject: false, stripFinalNewline: false });
    // git says "does not exist in" / "exists on disk, but not in" for a path absent at that commit.
    if (shown.exitCode !== 0) {
      if (/does not exist|exists on disk, but not in/.test(shown.stderr)) {
        sources.push({ file, text: "" });
        continue;
      }
      throw new ConfigError(`--base ${rev}: git show ${rel} failed: ${shown.stderr.trim()}`);
    }
    sources.push({ file, text: shown.stdout });
  }
  return sources;
}

/** The wishlists now and at a base revision, and what changed between them. */
export interface WishlistChanges {
  diff: WishlistDiff;
  current: WishlistCheck;
  base: WishlistCheck;
}

/**
 * `plan --base REV`: check the wishlist files as they are in the working tree and as they were at
 * `rev`, and diff them. Problems are reported per side, not thrown (old bad lines are history); a
 * current file that cannot be read is a WishlistError.
 */
export async function getWishlistChanges(rev: string, files: readonly string[], options: { cwd?: string } = {}): Promise<WishlistChanges> {
  const cwd = options.cwd ?? process.cwd();
  const currentSources: WishlistSource[] = [];
  for (const file of files) {
    try {
      currentSources.push({ file, text: await readFile(path.resolve(cwd, file), "utf8") });
    } catch (err) {
      throw new WishlistError([{ file, line: 0, message: `cannot read wishlist: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]);
    }
  }
  const base = checkWishlists(await readWishlistsAtRevision(rev, files, { cwd }));
  const current = checkWishlists(currentSources);
  return { diff: diffWishlists(base.entries, current.entries), current, base };
}
