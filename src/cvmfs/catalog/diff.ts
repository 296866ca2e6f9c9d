import type { ChunkRef } from "../../content/content-store.js";
import type { CatalogEditor } from "./editor.js";
import { Flag, type CatalogEntry } from "./row.js";
import type { NestedCatalogRef } from "./writer.js";
import { catalogPath } from "./md5-path.js";

/**
 * Differences between two catalog hierarchies below one path, in the shape the gateway's commit
 * replays onto the current root (cvmfs-formats.md §5.5, after CVMFS's `CatalogDiffTool::DiffRec`):
 *
 * - `add`: a new entry. A new plain directory is followed by the additions of its contents; a
 *   new nested catalog comes as one change carrying the catalog (mounted whole, not re-added).
 * - `remove`: an entry gone, with everything below it (one change per removed subtree).
 * - `modify`: an entry whose row changed; for a nested catalog, also when only its hash changed
 *   (swapped whole). A change of kind (file ↔ dir, plain dir ↔ mountpoint) is a remove + add.
 *
 * Ancestors of `path` are never reported; `path` itself is.
 */
export type CatalogChange =
  | { kind: "add"; path: string; entry: CatalogEntry; chunks?: ChunkRef[]; nested?: NestedCatalogRef }
  | { kind: "remove"; path: string; entry: CatalogEntry }
  | { kind: "modify"; path: string; old: CatalogEntry; entry: CatalogEntry; chunks?: ChunkRef[]; nested?: NestedCatalogRef };

const sameBytes = (a: Buffer | null, b: Buffer | null): boolean => (a === null || b === null ? a === b : a.equals(b));

/** Whether two rows of the same path describe the same entry (linkcounts of directories aside). */
function sameRow(a: CatalogEntry, b: CatalogEntry): boolean {
  const x = a.row;
  const y = b.row;
  return (
    x.flags === y.flags &&
    x.mode === y.mode &&
    x.size === y.size &&
    x.mtime === y.mtime &&
    x.mtimens === y.mtimens &&
    x.uid === y.uid &&
    x.gid === y.gid &&
    x.symlink === y.symlink &&
    sameBytes(x.hash, y.hash) &&
    sameBytes(x.xattr, y.xattr) &&
    (a.kind !== "dir" ? x.hardlinks === y.hardlinks : true)
  );
}

const sameChunks = (a: ChunkRef[], b: ChunkRef[]): boolean =>
  a.length === b.length && a.every((c, i) => c.offset === b[i]?.offset && c.size === b[i]?.size && c.hash === b[i]?.hash);

/** The kind that decides between modify and remove + add. */
const isMount = (e: CatalogEntry): boolean => e.isMountpoint || e.isNestedRoot;
const shape = (e: CatalogEntry): string => (e.kind === "dir" ? (isMount(e) ? "mount" : "dir") : "leaf");

async function* added(to: CatalogEditor, path: string, entry: CatalogEntry): AsyncGenerator<CatalogChange> {
  if (entry.kind === "dir" && isMount(entry)) {
    const nested = await to.nestedRef(path);
    yield { kind: "add", path, entry, ...(nested ? { nested } : {}) };
    return;
  }
  if (entry.isChunked) {
    yield { kind: "add", path, entry, chunks: await to.chunks(path) };
    return;
  }
  yield { kind: "add", path, entry };
  if (entry.kind === "dir") {
    for (const child of await to.list(path)) yield* added(to, `${path}/${child.name}`, child);
  }
}

async function* compare(
  from: CatalogEditor,
  to: CatalogEditor,
  path: string,
  a: CatalogEntry | undefined,
  b: CatalogEntry | undefined,
): AsyncGenerator<CatalogChange> {
  if (a && !b) {
    yield { kind: "remove", path, entry: a };
    return;
  }
  if (!a || !b) {
    if (b) yield* added(to, path, b);
    return;
  }
  if (shape(a) !== shape(b)) {
    yield { kind: "remove", path, entry: a };
    yield* added(to, path, b);
    return;
  }
  if (shape(b) === "mount") {
    // Equal hashes: the same catalog, not even opened.
    const [na, nb] = [await from.nestedAt(path), await to.nestedAt(path)];
    if (sameRow(a, b) && na?.hash === nb?.hash) return;
    const nested = await to.nestedRef(path);
    yield { kind: "modify", path, old: a, entry: b, ...(nested ? { nested } : {}) };
    return;
  }
  if (shape(b) === "leaf") {
    const chunks = b.isChunked ? await to.chunks(path) : undefined;
    const changed = !sameRow(a, b) || (chunks !== undefined && !sameChunks(await from.chunks(path), chunks));
    if (changed) yield { kind: "modify", path, old: a, entry: b, ...(chunks ? { chunks } : {}) };
    return;
  }
  if (!sameRow(a, b)) yield { kind: "modify", path, old: a, entry: b };
  // Hidden entries (the repository's `/.cvmfs`) are never replayed, as in CVMFS's diff.
  const visible = (e: CatalogEntry): boolean => (e.flags & Flag.Hidden) === 0;
  const [la, lb] = [(await from.list(path)).filter(visible), (await to.list(path)).filter(visible)];
  const byName = new Map(la.map((e) => [e.name, e]));
  const names = new Set([...la.map((e) => e.name), ...lb.map((e) => e.name)]);
  const newByName = new Map(lb.map((e) => [e.name, e]));
  for (const name of [...names].sort()) {
    yield* compare(from, to, path === "" ? `/${name}` : `${path}/${name}`, byName.get(name), newByName.get(name));
  }
}

/**
 * The changes that turn `from`'s tree below `path` into `to`'s, entry by entry, crossing
 * nested catalogs (mounted catalogs with equal hashes are skipped without being opened).
 * For `path` = the repository root, the root entry itself is compared too.
 */
export async function* diffCatalogTrees(from: CatalogEditor, to: CatalogEditor, path: string): AsyncGenerator<CatalogChange> {
  const p = catalogPath(path);
  yield* compare(from, to, p, await from.lookup(p), await to.lookup(p));
}

/** Replays one change onto an editor (the gateway's merge onto the current root). */
export async function applyCatalogChange(editor: CatalogEditor, change: CatalogChange): Promise<void> {
  if (change.kind === "remove") {
    await editor.remove(change.path);
    return;
  }
  if (change.nested) await editor.mountNested(change.path, change.nested);
  else await editor.putEntry(change.path, change.entry, change.chunks);
}
