import { CatalogDb } from "./src/cvmfs/catalog-db.js";
import { md5PathKey } from "./src/cvmfs/md5-path.js";
const N = 200000;
const digest = Buffer.alloc(20, 1);
const parent = md5PathKey("/p");
const rows = Array.from({ length: N }, (_, i) => ({ k: md5PathKey(`/p/${i}`), name: `file-${i}.py` })).sort((a, b) => (a.k[0] < b.k[0] ? -1 : 1));
for (const B of [1, 16, 64, 1, 16, 64]) {
  const db = CatalogDb.create();
  const one = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  const stmt = db.db.prepare(`INSERT INTO catalog (md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, mode, mtime, mtimens, flags, name, symlink, uid, gid, xattr) VALUES ${Array(B).fill(one).join(",")}`);
  const c0 = process.cpuUsage();
  const params: unknown[] = new Array(16 * B);
  db.transaction(() => {
    for (let i = 0; i + B <= N; i += B) {
      for (let j = 0; j < B; j++) {
        const r = rows[i + j]!; const o = j * 16;
        params[o] = r.k[0]; params[o+1] = r.k[1]; params[o+2] = parent[0]; params[o+3] = parent[1]; params[o+4] = 1; params[o+5] = digest; params[o+6] = 1000; params[o+7] = 0o100644; params[o+8] = 1700000000; params[o+9] = 0; params[o+10] = 4; params[o+11] = r.name; params[o+12] = ""; params[o+13] = 0; params[o+14] = 0; params[o+15] = null;
      }
      stmt.run(params);
    }
  });
  const c = process.cpuUsage(c0);
  console.log(B, Math.round((c.user + c.system) / 1000), "ms cpu");
  db.close();
}
