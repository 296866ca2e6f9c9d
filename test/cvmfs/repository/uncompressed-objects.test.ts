import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FileContent } from "../../../src/content/content-store.js";
import { CatalogEditor } from "../../../src/cvmfs/catalog/editor.js";
import { Flag } from "../../../src/cvmfs/catalog/row.js";
import { writeImageCatalogs } from "../../../src/cvmfs/catalog/writer.js";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import { objectPath } from "../../../src/cvmfs/objects/hash.js";
import { LocalContentStore } from "../../../src/cvmfs/objects/local-content-store.js";
import { RepositoryReader, type RepositoryEntry } from "../../../src/cvmfs/repository/repository-reader.js";
import { createRepositoryServer, type RepositoryServer } from "../../../src/cvmfs/repository/serve.js";
import { verifyRepository } from "../../../src/cvmfs/repository/verify.js";
import type { DirNode, FileNode, NodeMeta } from "../../../src/tree/types.js";
import { availableCompressors, seededBytes, textBytes } from "../objects/object-fixtures.js";
import { createFixture, FQRN, IMAGE_DIR, type RepoFixture } from "./repo-fixture.js";

/**
 * Objects stored uncompressed (compression `none`, catalog flag 2048, the hash over the raw
 * bytes) beside zlib ones in one image: flagged so in the catalogs, read back by the repository
 * reader and checked by `verify`, with either compressor; and switching the compressor changes
 * object hashes and stored sizes only.
 */

// The minimum piece equals the 64 KiB sample: a chunked file is decided early, on its first piece.
const CHUNKING = { min: 64 * 1024, avg: 128 * 1024, max: 256 * 1024 };

/** A mixed image: path in the image → content, and whether it must be stored uncompressed. */
const MIXED: Array<{ path: string; content: Buffer; none: boolean; mode?: number; uid?: number }> = [
  { path: "etc/text.conf", content: textBytes(40_000, 2), none: false },
  { path: "usr/lib/big-text.so", content: textBytes(600_000, 3), none: false }, // chunked, zlib
  { path: "usr/lib/random.bin", content: seededBytes(30_000, 4), none: true }, // incompressible sample
  { path: "usr/lib/random-chunked.bin", content: seededBytes(600_000, 5), none: true }, // every chunk follows the first
  { path: "usr/share/doc/changelog.gz", content: gzipSync(textBytes(5_000, 6)), none: true }, // gzip magic
  { path: "usr/share/pixmaps/logo.png", content: Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(3000)]), none: true }, // magic, though zeros follow
  { path: "usr/bin/tiny", content: Buffer.from("#!/bin/sh\n"), none: true, mode: 0o755 }, // grows under zlib
  { path: "var/empty", content: Buffer.alloc(0), none: false }, // zlib's own empty object, as cvmfs_server stores it
  { path: "home/user/notes", content: textBytes(2_000, 7), none: false, uid: 1000 },
];

const mtime = 1_700_000_000;
const meta = (mode = 0o644, uid = 0): NodeMeta => ({ mode, uid, gid: uid, mtime, mtimeNs: 0 });

/** Publish the mixed image into the fixture's stratum 0 with `pool`'s compressor. */
async function publishMixed(fx: RepoFixture, pool: CompressPool): Promise<Map<string, FileContent>> {
  const store = new LocalContentStore(fx.s0.dir, { hashAlgorithm: fx.s0.hashAlgorithm, chunking: CHUNKING, pool });
  const root: DirNode = { ...meta(0o755), type: "dir", children: new Map() };
  const contents = new Map<string, FileContent>();
  let inode = 1;
  for (const f of MIXED) {
    const content = await store.putFile(Readable.from([f.content]));
    contents.set(f.path, content);
    let dir = root;
    const parts = f.path.split("/");
    for (const name of parts.slice(0, -1)) {
      let next = dir.children.get(name);
      if (!next) {
        next = { ...meta(0o755), type: "dir", children: new Map() } satisfies DirNode;
        dir.children.set(name, next);
      }
      dir = next as DirNode;
    }
    const node: FileNode = { ...meta(f.mode, f.uid), type: "file", content, inode: inode++ };
    dir.children.set(parts.at(-1) as string, node);
  }
  const ref = await writeImageCatalogs(root, IMAGE_DIR, store, { mtime });
  const editor = await CatalogEditor.open(fx.s0.manifest().catalogHash, fx.s0.catalogLoader, { mtime });
  try {
    await editor.ensureDir("/.images/ab");
    await editor.mountNested(IMAGE_DIR, ref);
    const { rootHash, rootSize } = await editor.finish(fx.s0.store, { revision: fx.s0.manifest().revision + 1 });
    await fx.s0.publish({ rootHash, rootSize, tagName: "mixed", tagDescription: "mixed image" });
  } finally {
    editor.close();
  }
  return contents;
}

const readAll = async (s: NodeJS.ReadableStream): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const b of s) parts.push(b as Buffer);
  return Buffer.concat(parts);
};

/** Every entry under the image directory, by path. */
async function imageEntries(dir: string): Promise<Map<string, RepositoryEntry>> {
  const reader = await RepositoryReader.open({ dir }, { fqrn: FQRN });
  try {
    const out = new Map<string, RepositoryEntry>();
    for await (const e of reader.walk(IMAGE_DIR)) out.set(e.path, e);
    return out;
  } finally {
    await reader.close();
  }
}

const published = new Map<string, { fx: RepoFixture; contents: Map<string, FileContent> }>();
const pools: CompressPool[] = [];

afterAll(async () => {
  for (const { fx } of published.values()) await fx.close();
  for (const p of pools) await p.close();
});

describe.each(availableCompressors().map((c) => [c.name] as const))("a mixed image published with %s", (name) => {
  let fx: RepoFixture;
  let contents: Map<string, FileContent>;
  let server: RepositoryServer;
  beforeAll(async () => {
    const pool = new CompressPool({ size: 2, compressor: name });
    pools.push(pool);
    fx = await createFixture();
    contents = await publishMixed(fx, pool);
    published.set(name, { fx, contents });
    server = await createRepositoryServer({ dir: fx.dir, fqrn: FQRN });
  });
  afterAll(async () => {
    await server.close();
  });

  it("flags exactly the uncompressed files with compression none (2048), and stores their raw bytes", async () => {
    const entries = await imageEntries(fx.dir);
    for (const f of MIXED) {
      const e = entries.get(`${IMAGE_DIR}/${f.path}`);
      expect(e, f.path).toBeDefined();
      expect(e?.compression, f.path).toBe(f.none ? "none" : "zlib");
      expect(((e?.flags ?? 0) & Flag.CompressionNone) !== 0, f.path).toBe(f.none);
      const c = contents.get(f.path) as FileContent;
      expect(c.compression, f.path).toBe(f.none ? "none" : undefined);
      // Raw objects hold the content itself; chunked ones piece by piece.
      const pieces = c.chunks ?? [{ offset: 0, size: c.size, hash: c.hash as string }];
      if (f.none) {
        for (const p of pieces) {
          const stored = await readFile(join(fx.dir, objectPath(p.hash, c.chunks ? "P" : "")));
          expect(stored.equals(f.content.subarray(p.offset, p.offset + p.size)), f.path).toBe(true);
        }
      }
    }
    expect((contents.get("usr/lib/random-chunked.bin")?.chunks ?? []).length).toBeGreaterThan(1);
    expect((contents.get("usr/lib/big-text.so")?.chunks ?? []).length).toBeGreaterThan(1);
  });

  it.each(["url", "dir"] as const)("round-trips byte for byte through the repository reader (%s)", async (kind) => {
    const reader = await RepositoryReader.open(kind === "url" ? { url: server.url } : { dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
    try {
      for (const f of MIXED) expect(await readAll(reader.readFile(`${IMAGE_DIR}/${f.path}`)), f.path).toEqual(f.content);
    } finally {
      await reader.close();
    }
  });

  it("passes verify, over HTTP and from the directory", async () => {
    for (const source of [{ url: server.url }, { dir: fx.dir }]) {
      const { problems } = await verifyRepository(source, { fqrn: FQRN, pubkeyPath: fx.pubkey });
      expect(problems).toEqual([]);
    }
  });

  it("has verify and the reader name a flipped byte in an uncompressed object", async () => {
    const c = contents.get("usr/lib/random.bin") as FileContent;
    const rel = objectPath(c.hash as string, "");
    const file = join(fx.dir, rel);
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad.writeUInt8((bad.readUInt8(100) ^ 0x01) & 0xff, 100);
    await writeFile(file, bad);
    try {
      const { problems } = await verifyRepository({ dir: fx.dir }, { fqrn: FQRN });
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^object ${rel}: content hash is `))]);
      const reader = await RepositoryReader.open({ dir: fx.dir }, { fqrn: FQRN });
      try {
        await expect(readAll(reader.readFile(`${IMAGE_DIR}/usr/lib/random.bin`))).rejects.toThrow(/digest|hash/i);
      } finally {
        await reader.close();
      }
    } finally {
      await writeFile(file, good);
    }
  });
});

describe("switching the compressor", () => {
  it.skipIf(availableCompressors().length < 2)("changes object hashes and stored sizes only: tree, sizes, modes, owners and flags stay", async () => {
    const zlib = published.get("zlib");
    const libdeflate = published.get("libdeflate");
    if (!zlib || !libdeflate) throw new Error("both compressors' repositories must have been published above");
    const [a, b] = [await imageEntries(zlib.fx.dir), await imageEntries(libdeflate.fx.dir)];
    expect([...b.keys()]).toEqual([...a.keys()]);
    let changedHashes = 0;
    for (const [path, ea] of a) {
      const eb = b.get(path) as RepositoryEntry;
      const shape = (e: RepositoryEntry) => ({ kind: e.kind, size: e.size, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, flags: e.flags, symlink: e.symlink, linkcount: e.linkcount, chunked: e.isChunked });
      expect(shape(eb), path).toEqual(shape(ea));
      if (ea.hash !== eb.hash) changedHashes++;
      // Raw objects are the same bytes whatever the compressor, and so is zlib's empty stream.
      if (ea.compression === "none" || ea.size === 0) expect(eb.hash, path).toBe(ea.hash);
    }
    // The compressible non-empty whole files got other deflate output, hence other names.
    expect(changedHashes).toBe(MIXED.filter((f) => !f.none && f.content.length > 0 && f.path !== "usr/lib/big-text.so").length);
    const storedSize = async (dir: string, c: FileContent) => (await readFile(join(dir, objectPath(c.hash as string, "")))).length;
    const text = (m: Map<string, FileContent>) => m.get("etc/text.conf") as FileContent;
    expect(await storedSize(libdeflate.fx.dir, text(libdeflate.contents))).not.toBe(await storedSize(zlib.fx.dir, text(zlib.contents)));
  });
});
