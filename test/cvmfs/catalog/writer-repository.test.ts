import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CatalogEditor } from "../../../src/cvmfs/catalog/editor.js";
import { writeImageCatalogs } from "../../../src/cvmfs/catalog/writer.js";
import { RepositoryReader } from "../../../src/cvmfs/repository/repository-reader.js";
import type { DirNode, TreeNode } from "../../../src/tree/types.js";
import { createFixture, FQRN, IMAGE_DIR, type RepoFixture } from "../repository/repo-fixture.js";

/**
 * A large image published into a real stratum 0 and read back as a client would: every catalog
 * fetched, inflated and opened from the repository, starting at the manifest.
 */

const DIRS = 500;
const FILES = 1_000;
const MiB = 1024 * 1024;

interface Loaded {
  path: string;
  /** Rows of its `catalog` table. */
  rows: number;
  /** Uncompressed bytes, as its parent's `nested_catalogs` row (or the manifest) says. */
  size: number;
  /** Uncompressed bytes of it and every catalog above it: what a client loads to reach into it. */
  pathBytes: number;
}

describe("writeImageCatalogs into a repository", () => {
  let fx: RepoFixture;
  let hello: Buffer;
  beforeAll(async () => {
    fx = await createFixture();
    hello = Buffer.from("hi\n");
    const content = await fx.s0.store.putFile(Readable.from([hello]));
    const meta = { uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNs: 0 };
    const image: DirNode = { type: "dir", ...meta, mode: 0o755, children: new Map() };
    for (let d = 0; d < DIRS; d++) {
      const children = new Map<string, TreeNode>();
      for (let f = 0; f < FILES; f++) children.set(`file-${f}.py`, { type: "file", ...meta, mode: 0o644, content, inode: d * FILES + f });
      image.children.set(`pkg-${d}`, { type: "dir", ...meta, mode: 0o755, children });
    }
    const ref = await writeImageCatalogs(image, IMAGE_DIR, fx.s0.store, { mtime: meta.mtime });
    const editor = await CatalogEditor.open(fx.s0.manifest().catalogHash, fx.s0.catalogLoader, { mtime: meta.mtime });
    try {
      await editor.ensureDir("/.images/ab");
      await editor.mountNested(IMAGE_DIR, ref);
      const { rootHash, rootSize } = await editor.finish(fx.s0.store, { revision: fx.s0.manifest().revision + 1 });
      await fx.s0.publish({ rootHash, rootSize, tagName: "large", tagDescription: "500,000 entries" });
    } finally {
      editor.close();
    }
  });
  afterAll(async () => {
    await fx?.close();
  });

  it("shapes a 500,000-entry image so that a client loads under 5 MiB of catalogs to reach any file", async () => {
    const reader = await RepositoryReader.open({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
    try {
      const catalogs: Loaded[] = [];
      const load = async (hash: string, path: string, size: number, above: number): Promise<void> => {
        const view = await reader.catalog(hash);
        expect((await stat(await reader.catalogLoader(hash))).size, path).toBe(size);
        const c = view.counters().self;
        const loaded = { path, rows: c.regular + c.dir + c.symlink + c.special, size, pathBytes: above + size };
        catalogs.push(loaded);
        for (const n of view.nested()) await load(n.hash, n.path, n.size, loaded.pathBytes);
      };
      await load(reader.manifest.catalogHash, "", reader.manifest.catalogSize, 0);
      const image = catalogs.filter((c) => c.path === IMAGE_DIR || c.path.startsWith(`${IMAGE_DIR}/`));

      // A complete walk, through every nested catalog, meets every entry once (and a marker per catalog).
      let walked = 0;
      for await (const _ of reader.walk(IMAGE_DIR)) walked++;
      expect(walked).toBe(1 + DIRS + DIRS * FILES + image.length);
      // Each catalog's rows: the walk's entries plus the second row of every mountpoint.
      expect(image.reduce((n, c) => n + c.rows, 0)).toBe(walked + image.length - 1);

      const top = image.find((c) => c.path === IMAGE_DIR) as Loaded;
      expect(Math.max(...image.map((c) => c.rows))).toBeLessThanOrEqual(200_000);
      expect(top.rows).toBeLessThanOrEqual(1_000);
      // No tiny catalogs: every one below the top holds at least cvmfs_server's minimum weight.
      expect(Math.min(...image.filter((c) => c !== top).map((c) => c.rows))).toBeGreaterThanOrEqual(1_000);
      const worst = catalogs.reduce((w, c) => (c.pathBytes > w.pathBytes ? c : w));
      expect(worst.pathBytes).toBeLessThanOrEqual(5 * MiB);

      // The worst-placed file, read the way a client reads it.
      const parts: Buffer[] = [];
      for await (const b of reader.readFile(`${worst.path}/file-999.py`)) parts.push(b as Buffer);
      expect(Buffer.concat(parts)).toEqual(hello);
    } finally {
      await reader.close();
    }
  });
});
