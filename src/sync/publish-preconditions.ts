import path from "node:path";
import type { CatalogEditor } from "../cvmfs/catalog/editor.js";
import type { RepositoryLayout } from "../published/layout.js";
import { resolveLinkTarget, type PublishedState } from "../published/published-state.js";

/**
 * A publish is a compare-and-swap of intent: the final change of a run (names, removals, the
 * schedule and owners files) was planned from a published state, and lands on whatever the
 * repository holds when its lease (or lock) is taken. Another run may have changed it in
 * between. Before anything is written, the change checks that what it planned from still holds
 * under its lease; if not, it writes nothing and the run plans again from the fresh state, so
 * two overlapping runs never end with a mix of their intents.
 */
export interface Preconditions {
  layout: RepositoryLayout;
  /** The state the plan was made from. */
  state: PublishedState;
  /** Public names the change touches or relies on (every name of the plan, kept ones too). */
  names: Iterable<string>;
  /** Files of the images root the change rewrites (schedule, owners): each must be as it was read. */
  files: Iterable<string>;
  /** Image directories the change deletes: no name may point at them now. */
  removals: readonly string[];
}

/**
 * What no longer holds, as sentences (empty when the change may go ahead). Reads only the
 * catalogs on the way to the names (never an image's own catalog).
 */
export async function checkPreconditions(editor: CatalogEditor, p: Preconditions): Promise<string[]> {
  const problems: string[] = [];
  for (const name of p.names) {
    const expected = p.state.tags.get(name) ?? p.state.dangling.get(name);
    const now = await linkedDir(editor, p.layout, name);
    if (now !== expected) {
      problems.push(`${name} now ${now === undefined ? "does not exist" : `points at ${now}`}, planned from ${expected ?? "nothing there"}`);
    }
  }
  for (const file of p.files) {
    const hash = (await editor.lookup(file))?.hash ?? undefined;
    if (hash !== p.state.fileHashes[file]) problems.push(`${file} was changed by another run`);
  }
  if (p.removals.length > 0) {
    const removing = new Set(p.removals);
    for await (const [name, dir] of publicNames(editor, p.layout)) {
      if (removing.has(dir) && !p.state.tags.has(name)) problems.push(`${name} now points at ${dir}, which this run would delete`);
    }
  }
  return problems;
}

/** The image directory a public name links to now, or its raw state when it is no such link. */
async function linkedDir(editor: CatalogEditor, layout: RepositoryLayout, name: string): Promise<string | undefined> {
  const entry = await editor.lookup(name);
  if (entry === undefined) return undefined;
  if (entry.kind !== "symlink") return `a ${entry.kind}`;
  return resolveLinkTarget(layout, name, entry.symlink) ?? `elsewhere (${entry.symlink})`;
}

/** Every public name (a symlink outside the root's dot-directories and the Podman store) and the image directory it links to. */
async function* publicNames(editor: CatalogEditor, layout: RepositoryLayout, dir = ""): AsyncGenerator<[string, string]> {
  for (const entry of await editor.list(dir)) {
    // Not names: the dot-directories, and the Podman store (its layers' links point at images too).
    if (dir === "" && (entry.name.startsWith(".") || `/${entry.name}` === layout.podmanRoot)) continue;
    const p = path.posix.join(dir || "/", entry.name);
    if (entry.kind === "dir" && !entry.isMountpoint) yield* publicNames(editor, layout, p);
    else if (entry.kind === "symlink") {
      const target = resolveLinkTarget(layout, p, entry.symlink);
      if (target !== undefined) yield [p, target];
    }
  }
}
