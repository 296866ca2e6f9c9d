import { displayText } from "../human-format.js";
import { parseEntryReference, parsePlatformList, problemFrom, type WishlistParseResult } from "./entry.js";

/** The trailing comment that sets a line's platforms; any other comment is just a comment. */
const PLATFORMS_COMMENT = /^\s*platforms\s*=\s*(\S*)\s*$/;

/**
 * Parse a wishlist in the syntax of OSG's `docker_images.txt` (cvmfs-singularity-sync):
 * - one image reference a line, in docker's short or long form (`centos:7`, `ns/name`,
 *   `host:port/ns/name:tag`, `name@sha256:…`, `name:tag@sha256:…`);
 * - `#` starts a comment, on its own line or after a reference (`#` never occurs in a reference);
 * - blank lines and whitespace around a reference are ignored; `\r\n` line ends and a leading
 *   byte order mark are accepted;
 * - a tag with glob operators (`ns/name:*`, `ns/name:v1.*`, `ns/name:3.1[0-9]`) is kept as a
 *   pattern, matched later against the registry's tag list (OSG uses Python's fnmatch);
 * - a trailing comment `# platforms=linux/amd64,linux/arm64` gives the line its own platforms
 *   instead of the run's. It is a comment, so OSG's own sync script reads the same file unchanged.
 *
 * Pure: never throws for a bad line; every bad line is a problem with its 1-based line number,
 * so the caller can report all of them at once.
 */
export function parseOsgWishlist(file: string, text: string): WishlistParseResult {
  const result: WishlistParseResult = { entries: [], problems: [], warnings: [] };
  // A byte order mark (some editors write one) would otherwise become part of the first reference.
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i] ?? "";
    const hash = raw.indexOf("#");
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (body === "") continue;
    if (/\s/.test(body)) {
      result.problems.push({ file, line: lineNo, message: `more than one word on a line: "${displayText(body)}" (one image reference a line)` });
      continue;
    }
    const option = hash >= 0 ? PLATFORMS_COMMENT.exec(raw.slice(hash + 1)) : null;
    let platforms: string[] | undefined;
    if (option) {
      const list = parsePlatformList(option[1] ?? "");
      if ("error" in list) {
        result.problems.push({ file, line: lineNo, message: `# platforms=: ${list.error}` });
        continue;
      }
      platforms = list.platforms;
    }
    try {
      const entry = parseEntryReference(file, lineNo, body);
      result.entries.push(platforms ? { ...entry, platforms } : entry);
    } catch (err) {
      result.problems.push(problemFrom(file, lineNo, err));
    }
  }
  return result;
}
