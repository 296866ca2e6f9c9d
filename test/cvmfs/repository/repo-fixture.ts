import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { CatalogEditor } from "../../../src/cvmfs/catalog/editor.js";
import { writeImageCatalogs } from "../../../src/cvmfs/catalog/writer.js";
import type { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import { LocalContentStore } from "../../../src/cvmfs/objects/local-content-store.js";
import type { Manifest } from "../../../src/cvmfs/repository/manifest.js";
import { Stratum0, type PublishStep } from "../../../src/cvmfs/repository/stratum0.js";
import type { DirNode, FileNode, NodeMeta } from "../../../src/tree/types.js";

/**
 * A real stratum 0 in a temp directory for the repository tests, with a sample tree: plain and
 * empty files, a symlink, and an image directory in its own nested catalog holding a chunked file.
 */
export interface RepoFixture {
  root: string;
  dir: string;
  keysDir: string;
  fqrn: string;
  s0: Stratum0;
  /** Set to make the publish throw after that step. */
  fault: { step?: PublishStep };
  pubkey: string;
  close(): Promise<void>;
}

export const FQRN = "images.test";
export const IMAGE_DIR = "/.images/ab/cdef";

export async function createFixture(): Promise<RepoFixture> {
  const root = await mkdtemp(join(tmpdir(), "repo-fixture-"));
  const dir = join(root, "stratum0");
  const keysDir = join(root, "keys");
  const fault: { step?: PublishStep } = {};
  const s0 = await Stratum0.openOrCreate(dir, {
    fqrn: FQRN,
    keysDir,
    faultHook: (step) => {
      if (fault.step === step) throw new Error(`injected fault after ${step}`);
    },
  });
  return {
    root,
    dir,
    keysDir,
    fqrn: FQRN,
    s0,
    fault,
    pubkey: join(keysDir, `${FQRN}.pub`),
    async close() {
      await s0.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

const meta = (mtime: number, mode = 0o644): NodeMeta => ({ mode, uid: 0, gid: 0, mtime, mtimeNs: 0 });

/** The files `publishSample` writes, by repository path. */
export type SampleFiles = Map<string, Buffer>;

/** Build and publish one revision of the sample tree (content differs with `variant`). */
export async function publishSample(s0: Stratum0, variant: number, pool: CompressPool): Promise<{ manifest: Manifest; files: SampleFiles }> {
  const mtime = 1_700_000_000 + variant;
  const store = new LocalContentStore(s0.dir, { hashAlgorithm: s0.hashAlgorithm, chunking: { min: 256, avg: 1024, max: 4096 }, pool });
  const files: SampleFiles = new Map();
  const put = async (path: string, bytes: Buffer) => {
    files.set(path, bytes);
    return store.putFile(Readable.from([bytes]));
  };
  const hello = await put("/hello.txt", Buffer.from(`hello ${variant}\n`));
  const empty = await put("/empty", Buffer.alloc(0));
  const big = await put(`${IMAGE_DIR}/bin/tool`, randomBytes(20_000));
  const conf = await put(`${IMAGE_DIR}/etc/conf`, Buffer.from(`conf ${variant}\n`));
  const file = (content: FileNode["content"], inode: number): FileNode => ({ ...meta(mtime), type: "file", content, inode });
  const dirNode = (children: [string, DirNode | FileNode][]): DirNode => ({ ...meta(mtime, 0o755), type: "dir", children: new Map(children) });
  const image = dirNode([
    ["bin", dirNode([["tool", file(big, 1)]])],
    ["etc", dirNode([["conf", file(conf, 2)]])],
  ]);
  const ref = await writeImageCatalogs(image, IMAGE_DIR, store, { mtime });

  const editor = await CatalogEditor.open(s0.manifest().catalogHash, s0.catalogLoader, { mtime });
  try {
    await editor.putFile("/hello.txt", hello, meta(mtime));
    await editor.putFile("/empty", empty, meta(mtime));
    await editor.ensureDir("/library");
    await editor.putSymlink("/library/app:latest", `..${IMAGE_DIR}`, meta(mtime, 0o777));
    await editor.ensureDir("/.images/ab");
    await editor.mountNested(IMAGE_DIR, ref);
    const { rootHash, rootSize } = await editor.finish(s0.store, { revision: s0.manifest().revision + 1 });
    const manifest = await s0.publish({ rootHash, rootSize, tagName: `sample-${variant}`, tagDescription: `variant ${variant}` });
    return { manifest, files };
  } finally {
    editor.close();
  }
}

/** Prepare the next revision's root catalog without publishing it. */
export async function prepareRoot(s0: Stratum0, variant: number): Promise<{ rootHash: string; rootSize: number }> {
  const mtime = 1_700_000_000 + variant;
  const editor = await CatalogEditor.open(s0.manifest().catalogHash, s0.catalogLoader, { mtime });
  try {
    const content = await s0.store.putFile(Readable.from([Buffer.from(`variant ${variant}\n`)]));
    await editor.putFile(`/v${variant}`, content, meta(mtime));
    const { rootHash, rootSize } = await editor.finish(s0.store, { revision: s0.manifest().revision + 1 });
    return { rootHash, rootSize };
  } finally {
    editor.close();
  }
}
