import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import type { WishlistProblem } from "../errors.js";
import { displayText } from "../human-format.js";
import { parseEntryReference, parsePlatformList, problemFrom, type WishlistParseResult } from "./entry.js";

/** The settings of a DUCC recipe besides its input list; kept for the caller to check or show. */
export interface DuccSettings {
  version?: number;
  user?: string;
  /** The repository the recipe was written for; the caller may compare it with `--repo`. */
  cvmfsRepo?: string;
  /** DUCC's name pattern for thin images; unused here (no thin images are pushed). */
  outputFormat?: string;
  /** The platforms every input of the recipe is published for (`platforms:`), instead of the run's. */
  platforms?: string[];
}

/** A parsed DUCC recipe: the entries and problems of any wishlist, plus the recipe's settings. */
export interface DuccParseResult extends WishlistParseResult {
  settings: DuccSettings;
}

const KNOWN_KEYS = new Set(["version", "user", "cvmfs_repo", "output_format", "input", "ignoreErrors", "platforms"]);

/**
 * Parse a CERN DUCC recipe (syntax v1, as DUCC's `YamlRecipeV1`):
 * ```yaml
 * version: 1
 * user: someone
 * cvmfs_repo: unpacked.cern.ch
 * output_format: '$(scheme)://registry.example/thin/$(image)'
 * platforms: [linux/amd64, linux/arm64]    # optional: instead of the run's platforms
 * input:
 *   - 'https://registry.hub.docker.com/library/centos:centos7'
 *   - 'https://gitlab-registry.cern.ch/group/project:*'
 * ```
 * Each `input` item is an image reference, optionally prefixed with `https://` or `http://` as
 * DUCC writes them (the scheme is dropped: the registry client decides how to connect); tags may
 * be globs. An empty document is an empty wishlist. Line numbers come from the YAML node ranges.
 * Pure: bad items and YAML syntax errors are returned as problems, never thrown.
 */
export function parseDuccWishlist(file: string, text: string): DuccParseResult {
  const result: DuccParseResult = { entries: [], problems: [], warnings: [], settings: {} };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined): number =>
    node?.range ? Math.max(1, lineCounter.linePos(node.range[0]).line) : 0;
  const problem = (line: number, message: string): void => void result.problems.push({ file, line, message });

  if (doc.errors.length > 0) {
    for (const err of doc.errors) problem(err.linePos?.[0].line ?? 1, `YAML: ${displayText(firstLine(err.message))}`);
    return result;
  }
  const root = doc.contents;
  // An empty file (or one that did not exist at a git base) is an empty wishlist.
  if (root === null || (isScalar(root) && root.value === null)) return result;
  if (!isMap(root)) {
    problem(lineOf(root) || 1, "a DUCC recipe is a YAML mapping with `version`, `cvmfs_repo` and `input`");
    return result;
  }

  let input: Node | null = null;
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    const value = pair.value as Node | null;
    const line = lineOf(pair.key as Node) || 1;
    if (key === undefined || !KNOWN_KEYS.has(key)) {
      result.warnings.push({ file, line, message: `unknown key ${JSON.stringify(displayText(key ?? "?", { maxLength: 60 }))} ignored` });
      continue;
    }
    if (key === "input") {
      input = value;
      continue;
    }
    if (key === "ignoreErrors") continue;
    if (key === "platforms") {
      const items = isSeq(value) ? (value.items as (Node | null)[]).map((i) => (isScalar(i) ? i.value : undefined)) : [isScalar(value) ? value.value : undefined];
      const list = items.every((i): i is string => typeof i === "string") ? parsePlatformList(items.join(",")) : { error: "`platforms` must be a list of os/arch[/variant] strings" };
      if ("error" in list) problem(lineOf(value) || line, `platforms: ${list.error}`);
      else result.settings.platforms = list.platforms;
      continue;
    }
    const scalar = isScalar(value) ? value.value : undefined;
    if (key === "version") {
      if (scalar !== 1) problem(lineOf(value) || line, `unsupported recipe version ${displayText(JSON.stringify(scalar ?? null), { maxLength: 60 })} (only 1)`);
      else result.settings.version = 1;
    } else if (typeof scalar !== "string") {
      problem(lineOf(value) || line, `\`${key}\` must be a string`);
    } else if (key === "user") result.settings.user = scalar;
    else if (key === "cvmfs_repo") result.settings.cvmfsRepo = scalar;
    else result.settings.outputFormat = scalar;
  }
  if (result.settings.version === undefined && !result.problems.some((p) => p.message.includes("version"))) {
    result.warnings.push({ file, line: 1, message: "no `version` key: assuming recipe version 1" });
  }

  if (input === null) {
    if (!root.items.some((p) => isScalar(p.key) && p.key.value === "input")) problem(1, "no `input` list");
    return result;
  }
  if (!isSeq(input)) {
    problem(lineOf(input) || 1, "`input` must be a list of image references");
    return result;
  }
  const inputLine = lineOf(input) || 1;
  for (const item of input.items as (Node | null)[]) {
    const line = lineOf(item) || inputLine;
    const value = isScalar(item) ? item.value : undefined;
    if (typeof value !== "string") {
      problem(line, "an `input` item must be an image reference string");
      continue;
    }
    const text = stripScheme(value.trim());
    try {
      const entry = parseEntryReference(file, line, text);
      result.entries.push(result.settings.platforms ? { ...entry, platforms: result.settings.platforms } : entry);
    } catch (err) {
      result.problems.push(problemFrom(file, line, err) satisfies WishlistProblem);
    }
  }
  return result;
}

/** DUCC writes inputs as URLs; the scheme says nothing the reference needs. */
function stripScheme(value: string): string {
  const m = /^(https?):\/\/(.*)$/i.exec(value);
  return m ? (m[2] ?? "") : value;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}
