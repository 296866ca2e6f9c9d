import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { CompressPool } from "./src/cvmfs/compress-pool.js";
import { LocalContentStore } from "./src/cvmfs/local-content-store.js";
import { writeImageCatalogs } from "./src/cvmfs/catalog-writer.js";
import type { DirNode, TreeNode } from "./src/tree/types.js";
const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, mtimeNs: 0 };
const hash = createHash("sha1").update("x").digest("hex");
const root: DirNode = { type: "dir", ...meta, mode: 0o755, children: new Map() };
for (let d = 0; d < 1000; d++) {
  const children = new Map<string, TreeNode>();
  for (let f = 0; f < 999; f++) children.set(`file-${f}.py`, { type: "file", ...meta, content: { size: 1000 + f, hash }, inode: 1 });
  root.children.set(`pkg-${d}`, { type: "dir", ...meta, mode: 0o755, children });
}
const pool = new CompressPool({ size: 2 });
const store = await LocalContentStore.create(mkdtempSync("/dev/shm/p-"), { pool });
const t = performance.now();
await writeImageCatalogs(root, "/.images/ab/cd", store, { mtime: 1 });
console.log("150k", performance.now() - t);
await pool.close();
