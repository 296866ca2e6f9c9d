/**
 * What the gc tests check a stratum 0 with, computed without the gc code: the objects of
 * `data/`, the objects a set of revisions reaches (by walking paths through the catalog editor,
 * not by scanning rows), and the bytes of every file of a revision, hash-checked.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { CatalogEditor } from "../../../src/cvmfs/catalog/editor.js";
import { decodeObject } from "../../../src/cvmfs/objects/object-codec.js";
import type { Manifest } from "../../../src/cvmfs/repository/manifest.js";
import { RepositoryReader } from "../../../src/cvmfs/repository/repository-reader.js";

/** Every object file under `data/xx/`, as `hash + suffix` → stored size. */
export async function dataObjects(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const prefix of (await readdir(join(dir, "data"))).filter((d) => /^[0-9a-f]{2}$/.test(d))) {
    for (const name of await readdir(join(dir, "data", prefix))) {
      out.set(prefix + name, (await stat(join(dir, "data", prefix, name))).size);
    }
  }
  return out;
}

/** Sum of the stored sizes of `data/`'s objects. */
export async function dataBytes(dir: string): Promise<number> {
  return [...(await dataObjects(dir)).values()].reduce((a, b) => a + b, 0);
}

/** A reader of the stratum 0 at `dir` (hash-checking every object it fetches). */
export function openReader(dir: string, fqrn: string): Promise<RepositoryReader> {
  return RepositoryReader.open({ dir }, { fqrn });
}

/** The keys of everything the revisions with these roots reach, plus the manifest's X, H and M. */
export async function expectedObjects(reader: RepositoryReader, roots: readonly string[], manifest: Manifest): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const root of roots) {
    keys.add(`${root}C`);
    const editor = await CatalogEditor.open(root, reader.catalogLoader);
    try {
      for await (const w of editor.walk("")) {
        if (w.nested) keys.add(`${w.nested.hash}C`);
        if (w.entry.kind !== "file") continue;
        if (w.entry.isChunked) for (const c of await editor.chunks(w.path)) keys.add(`${c.hash}P`);
        else if (w.entry.hash) keys.add(w.entry.hash);
      }
    } finally {
      editor.close();
    }
  }
  if (manifest.certificateHash) keys.add(`${manifest.certificateHash}X`);
  if (manifest.historyHash) keys.add(`${manifest.historyHash}H`);
  if (manifest.metainfoHash) keys.add(`${manifest.metainfoHash}M`);
  return keys;
}

/** Every regular file of the revision rooted at `root`, path → bytes, each object hash-checked. */
export async function readRevision(reader: RepositoryReader, root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const editor = await CatalogEditor.open(root, reader.catalogLoader);
  try {
    for await (const w of editor.walk("")) {
      if (w.entry.kind !== "file") continue;
      const pieces = w.entry.isChunked
        ? (await editor.chunks(w.path)).map((c) => ({ hash: c.hash, suffix: "P" as const }))
        : [{ hash: w.entry.hash!, suffix: "" as const }];
      const parts: Buffer[] = [];
      for (const p of pieces) parts.push(decodeObject(await reader.fetchObject(p.hash, p.suffix), w.entry.compression));
      files.set(w.path, Buffer.concat(parts));
    }
  } finally {
    editor.close();
  }
  return files;
}
