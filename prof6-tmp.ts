import { CatalogDb } from "./src/cvmfs/catalog-db.js";
import { md5PathKey } from "./src/cvmfs/md5-path.js";
import type { CatalogRow } from "./src/cvmfs/catalog-row.js";
const N = 200000;
const digest = Buffer.alloc(20, 1);
const rows: CatalogRow[] = [];
for (let d = 0; d < 200; d++) { const parent = md5PathKey(`/p${d}`); for (let f = 0; f < 1000; f++) rows.push({ md5path: md5PathKey(`/p${d}/${f}`), parent, hardlinks: 1, hash: digest, size: 1000, mode: 0o100644, mtime: 1700000000, mtimens: 0, flags: 4, name: `file-${f}.py`, symlink: "", uid: 0, gid: 0, xattr: null }); }
rows.sort((a, b) => (a.md5path[0] < b.md5path[0] ? -1 : 1));
for (const defer of [false, true, false, true]) {
  const db = CatalogDb.create();
  const c0 = process.cpuUsage();
  db.transaction(() => {
    if (defer) db.db.exec("DROP INDEX idx_catalog_parent");
    db.insertRows(rows);
    if (defer) db.db.exec("CREATE INDEX idx_catalog_parent ON catalog (parent_1, parent_2);");
  });
  const c = process.cpuUsage(c0);
  console.log(defer, Math.round((c.user + c.system) / 1000), "ms cpu", db.serialize().length);
  db.close();
}
