/**
 * Catalog build rate and shape. Two image trees are written as catalogs (rows, counters,
 * autocatalogs, SQLite serialization, compression and storage): 1,000,000 entries (1,000
 * directories of 999 files) and 500,000 entries (500 directories of 1,000 files). For each: the
 * rate, and the shape a lazy client meets — the top catalog, the largest and the median catalog,
 * how many there are, and the bytes of the catalogs a client loads before it can open the
 * worst-placed file (uncompressed, as the nested_catalogs sizes count them).
 * Baseline: 200,000 prebuilt rows inserted into the real catalog schema in one transaction —
 * the floor any catalog writer sits on (what the tree walk, MD5 keys, counters, sorting and
 * storage add comes on top).
 */
import { createHash } from "node:crypto";
import { loadavg } from "node:os";
import { join } from "node:path";
import { CompressPool } from "../../src/cvmfs/objects/compress-pool.js";
import { CatalogDb } from "../../src/cvmfs/catalog/db.js";
import type { CatalogRow } from "../../src/cvmfs/catalog/row.js";
import { writeImageCatalogs, type WrittenCatalog } from "../../src/cvmfs/catalog/writer.js";
import { md5PathKey } from "../../src/cvmfs/catalog/md5-path.js";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import type { DirNode, TreeNode } from "../../src/tree/types.js";
import { round, sampleRss, MiB, type BenchContext } from "./context.js";

const MOUNTPOINT = "/.images/ab/cdef";

function tree(dirs: number, filesPerDir: number): { root: DirNode; entries: number } {
  const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNs: 0 };
  const hash = createHash("sha1").update("x").digest("hex");
  const root: DirNode = { type: "dir", ...meta, mode: 0o755, children: new Map() };
  let entries = 1;
  for (let d = 0; d < dirs; d++) {
    const children = new Map<string, TreeNode>();
    for (let f = 0; f < filesPerDir; f++) {
      children.set(`file-${f}.py`, { type: "file", ...meta, content: { size: 1000 + f, hash }, inode: d * filesPerDir + f });
    }
    root.children.set(`pkg-${d}`, { type: "dir", ...meta, mode: 0o755, children });
    entries += 1 + filesPerDir;
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

/** The catalogs a client loads to reach anything in `c`: `c` and every catalog mounted above it. */
function pathBytes(c: WrittenCatalog, byPath: Map<string, WrittenCatalog>): number {
  let bytes = 0;
  for (let p = c.path; p.length >= MOUNTPOINT.length; p = p.slice(0, p.lastIndexOf("/"))) bytes += byPath.get(p)?.size ?? 0;
  return bytes;
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(" ");
const sizeText = (c: WrittenCatalog): string => `${c.entries} entries, ${round(c.size / MiB)} MiB`;

async function measure(ctx: BenchContext, label: string, dirs: number, files: number, base: number): Promise<void> {
  const { root, entries } = tree(dirs, files);
  const pool = new CompressPool({ size: 2 });
  try {
    const store = await LocalContentStore.create(join(ctx.scratch, `store-${dirs}x${files}`), { pool });
    const catalogs: WrittenCatalog[] = [];
    const loadBefore = load();
    const rss = sampleRss();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await writeImageCatalogs(root, MOUNTPOINT, store, { mtime: 1_700_000_000, onCatalog: (c) => void catalogs.push(c) });
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const grown = rss.stop();
    const rate = entries / seconds;

    const byPath = new Map(catalogs.map((c) => [c.path, c]));
    const top = byPath.get(MOUNTPOINT) as WrittenCatalog;
    const bySize = [...catalogs].sort((a, b) => a.size - b.size);
    const median = bySize[bySize.length >> 1] as WrittenCatalog;
    const largest = bySize[bySize.length - 1] as WrittenCatalog;
    const worst = catalogs.reduce((w, c) => (pathBytes(c, byPath) > pathBytes(w, byPath) ? c : w), top);

    ctx.note(`${label}: ${entries} entries in ${round(seconds)} s; load average ${loadBefore} before, ${load()} after`);
    ctx.note(`${label}: top ${sizeText(top)}; largest ${sizeText(largest)}; median ${sizeText(median)}`);
    ctx.figure({ name: `${label}: catalog build rate`, value: Math.round(rate), unit: "rows/s", goal: "≥ 200000" });
    ctx.figure({ name: `${label}: build rate / baseline`, value: round(rate / base), unit: "×" });
    // CPU time of all threads (compression workers included): the work per row, whatever else
    // the machine is doing.
    ctx.figure({ name: `${label}: rows per CPU second (all threads)`, value: Math.round(entries / ((cpu.user + cpu.system) / 1e6)), unit: "rows/s" });
    ctx.figure({ name: `${label}: catalogs`, value: catalogs.length, unit: "" });
    ctx.figure({ name: `${label}: top catalog`, value: round(top.size / MiB), unit: `MiB (${top.entries} entries)` });
    ctx.figure({ name: `${label}: largest catalog`, value: round(largest.size / MiB), unit: `MiB (${largest.entries} entries)` });
    ctx.figure({ name: `${label}: median catalog`, value: round(median.size / MiB), unit: `MiB (${median.entries} entries)` });
    ctx.figure({ name: `${label}: catalogs on the path to the worst-placed file`, value: round(pathBytes(worst, byPath) / MiB), unit: "MiB uncompressed", goal: "≤ 5" });
    ctx.figure({ name: `${label}: peak RSS growth while writing`, value: round(grown / MiB), unit: "MiB" });
  } finally {
    await pool.close();
  }
}

export async function run(ctx: BenchContext): Promise<void> {
  const base = baselineRate(200_000);
  ctx.figure({ name: "baseline: prebuilt rows into the catalog schema", value: Math.round(base), unit: "rows/s" });
  await measure(ctx, "1,000,000 entries", 1_000, 999, base);
  await measure(ctx, "500 dirs × 1,000 files", 500, 1_000, base);
}
