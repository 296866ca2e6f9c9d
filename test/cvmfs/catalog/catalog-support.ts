import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import type { FileContent, ObjectSuffix } from "../../../src/content/content-store.js";
import { LocalContentStore } from "../../../src/cvmfs/objects/local-content-store.js";
import type { DirNode, FileNode, NodeMeta, SpecialNode, SymlinkNode, TreeNode } from "../../../src/tree/types.js";

/**
 * Test helpers for the catalog tests: real content stores (LocalContentStore on a temp dir with
 * a small compress pool, cleaned up after the file's tests), object reads, and tree builders.
 */

/** Registers the hooks of a test file and hands out fresh stores. */
export function useStores(): { store(): Promise<LocalContentStore>; dir(): string } {
  let root = "";
  let pool: CompressPool | undefined;
  let n = 0;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "cis-catalog-"));
    pool = new CompressPool({ size: 1 });
  });
  afterAll(async () => {
    await pool?.close();
    await rm(root, { recursive: true, force: true });
  });
  return {
    store: () => LocalContentStore.create(join(root, `store${n++}`), { pool: pool as CompressPool }),
    dir: () => root,
  };
}

/** The inflated bytes of a stored object (hash-checked by the store). */
export async function readObject(store: LocalContentStore, hash: string, suffix: ObjectSuffix): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of store.readObject(hash, suffix)) parts.push(b as Buffer);
  return Buffer.concat(parts);
}

/** A catalog loader over a store: inflates the object into a file next to the store. */
export function storeLoader(store: LocalContentStore, dir: string): (hash: string) => Promise<string> {
  return async (hash) => {
    const path = join(dir, `${hash}.sqlite`);
    await writeFile(path, await readObject(store, hash, "C"));
    return path;
  };
}

export const T0 = 1_700_000_000;

const meta = (over: Partial<NodeMeta> = {}): NodeMeta => ({ mode: 0o755, uid: 0, gid: 0, mtime: T0, mtimeNs: 0, ...over });

export function dir(children: Record<string, TreeNode> = {}, over: Partial<NodeMeta> = {}): DirNode {
  return { type: "dir", ...meta(over), children: new Map(Object.entries(children)) };
}

let nextInode = 1;
export function file(content: FileContent, over: Partial<NodeMeta> = {}, inode = nextInode++): FileNode {
  return { type: "file", ...meta({ mode: 0o644, ...over }), content, inode };
}

export function symlink(target: string, over: Partial<NodeMeta> = {}): SymlinkNode {
  return { type: "symlink", ...meta({ mode: 0o777, ...over }), target };
}

export function special(type: SpecialNode["type"], devMajor = 0, devMinor = 0, over: Partial<NodeMeta> = {}): SpecialNode {
  return { type, ...meta({ mode: 0o666, ...over }), devMajor, devMinor };
}

/** A 40-hex hash string made from a label (not a real object: catalogs only reference it). */
export function fakeHash(label: string): string {
  return createHash("sha1").update(label).digest("hex");
}
