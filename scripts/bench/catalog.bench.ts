/**
 * Catalog build rate: an image tree of 1,000,000 entries written as catalogs (rows, counters,
 * autocatalog split at the default 200,000 rows, SQLite serialization, compression and storage).
 * Baseline: 200,000 prebuilt rows inserted into the real catalog schema in one transaction —
 * the floor any catalog writer sits on (what the tree walk, MD5 keys, counters, sorting and
 * storage add comes on top).
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { CompressPool } from "../../src/cvmfs/objects/compress-pool.js";
import { CatalogDb } from "../../src/cvmfs/catalog/db.js";
import type { CatalogRow } from "../../src/cvmfs/catalog/row.js";
import { writeImageCatalogs } from "../../src/cvmfs/catalog/writer.js";
import { md5PathKey } from "../../src/cvmfs/catalog/md5-path.js";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import type { DirNode, TreeNode } from "../../src/tree/types.js";
import { round, sampleRss, MiB, type BenchContext } from "./context.js";

const DIRS = 1000;
const FILES_PER_DIR = 999;

function bigTree(): { root: DirNode; entries: number } {
  const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNs: 0 };
  const hash = createHash("sha1").update("x").digest("hex");
  const root: DirNode = { type: "dir", ...meta, mode: 0o755, children: new Map() };
  let entries = 1;
  for (let d = 0; d < DIRS; d++) {
    const children = new Map<string, TreeNode>();
    for (let f = 0; f < FILES_PER_DIR; f++) {
      children.set(`file-${f}.py`, { type: "file", ...meta, content: { size: 1000 + f, hash }, inode: d * DIRS + f });
    }
    root.children.set(`pkg-${d}`, { type: "dir", ...meta, mode: 0o755, children });
    entries += 1 + FILES_PER_DIR;
  }
  return { root, entries };
}

function baselineRate(rows: number): number {
  // The real schema (key index and parent index), rows prebuilt, inserted in path order.
  const db = CatalogDb.create();
  const digest = Buffer.alloc(20, 1);
  const parent = md5PathKey("/p");
  const prebuilt: CatalogRow[] = Array.from({ length: rows }, (_, i) => ({
    md5path: md5PathKey(`/p/${i}`),
    parent,
    hardlinks: 1,
    hash: digest,
    size: 1000,
    mode: 0o100644,
    mtime: 1_700_000_000,
    mtimens: 0,
    flags: 4,
    name: `file-${i}.py`,
    symlink: "",
    uid: 0,
    gid: 0,
    xattr: null,
  }));
  const t0 = performance.now();
  db.transaction(() => {
    for (const row of prebuilt) db.insertRow(row);
  });
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  return rows / seconds;
}

export async function run(ctx: BenchContext): Promise<void> {
  const { root, entries } = bigTree();
  const base = baselineRate(200_000);
  ctx.figure({ name: "baseline: prebuilt rows into the catalog schema", value: Math.round(base), unit: "rows/s" });

  const pool = new CompressPool({ size: 2 });
  try {
    const store = await LocalContentStore.create(join(ctx.scratch, "store"), { pool });
    const rss = sampleRss();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const ref = await writeImageCatalogs(root, "/.images/ab/cdef", store, { mtime: 1_700_000_000 });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const grown = rss.stop();
    const rate = entries / seconds;
    ctx.note(`${entries} entries in ${round(seconds)} s, ${ref.counters.self.nested + 1} catalogs at the top level, root catalog ${round(ref.size / MiB)} MiB`);
    ctx.figure({ name: "catalog build rate (1,000,000 entries)", value: Math.round(rate), unit: "rows/s", goal: "≥ 200000" });
    ctx.figure({ name: "catalog build rate / baseline", value: round(rate / base), unit: "×" });
    // CPU time of all threads (compression workers included): the work per row, whatever else
    // the machine is doing.
    ctx.figure({ name: "rows per CPU second (all threads)", value: Math.round(entries / ((cpu.user + cpu.system) / 1e6)), unit: "rows/s" });
    ctx.figure({ name: "peak RSS growth while writing", value: round(grown / MiB), unit: "MiB" });
  } finally {
    await pool.close();
  }
}
