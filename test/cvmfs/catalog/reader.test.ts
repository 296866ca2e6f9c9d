import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { CatalogError } from "../../../src/errors.js";
import { CatalogEditor } from "../../../src/cvmfs/catalog/editor.js";
import { openCatalog } from "../../../src/cvmfs/catalog/reader.js";
import { CATALOG_DDL } from "../../../src/cvmfs/catalog/schema.js";
import { COUNTER_NAMES } from "../../../src/cvmfs/catalog/counters.js";
import { md5PathKey } from "../../../src/cvmfs/catalog/md5-path.js";
import { readObject, T0, useStores } from "./catalog-support.js";

const stores = useStores();

/** A revision 6 root catalog (no `mtimens` column), as cvmfs_server 2.11 wrote them. */
async function revision6Catalog(path: string): Promise<void> {
  const db = new Database(path);
  for (const ddl of CATALOG_DDL) db.exec(ddl.replace(" mtimens INTEGER,", ""));
  const prop = db.prepare("INSERT INTO properties (key, value) VALUES (?, ?)");
  for (const [k, v] of [["schema", "2.5"], ["schema_revision", "6"], ["revision", "4"], ["last_modified", "1"]]) prop.run(k, v);
  const [r1, r2] = md5PathKey("");
  const [a1, a2] = md5PathKey("/a");
  const ins = db.prepare(
    "INSERT INTO catalog (md5path_1, md5path_2, parent_1, parent_2, hardlinks, hash, size, mode, mtime, flags, name, symlink, uid, gid, xattr) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
  );
  ins.run(r1, r2, 0, 0, 2, null, 4096, 0o40755, T0, 1, "", "", 0, 0, null);
  ins.run(a1, a2, r1, r2, 1, null, 1, 0o120777, T0, 12, "a", "b", 0, 0, null);
  const stat = db.prepare("INSERT INTO statistics (counter, value) VALUES (?, ?)");
  for (const scope of ["self", "subtree"]) for (const n of COUNTER_NAMES) stat.run(`${scope}_${n}`, scope === "self" && n === "dir" ? 1 : scope === "self" && n === "symlink" ? 1 : 0);
  db.close();
}

describe("openCatalog", () => {
  it("reads a revision 6 catalog in place, with no nanoseconds", async () => {
    const file = join(stores.dir(), "rev6.sqlite");
    await revision6Catalog(file);
    const cat = openCatalog(file);
    expect(cat.properties().schema_revision).toBe("6");
    expect(cat.lookup("/a")).toMatchObject({ kind: "symlink", symlink: "b", mtimeNs: null, linkcount: 1 });
    expect(cat.listing("/").map((e) => e.name)).toEqual(["a"]);
    expect(cat.entries()).toHaveLength(2);
    expect(cat.chunks("/a")).toEqual([]);
    cat.close();
  });

  it("upgrades a revision 6 catalog to 7 when the editor writes it", async () => {
    const file = join(stores.dir(), "rev6b.sqlite");
    await revision6Catalog(file);
    const store = await stores.store();
    const editor = await CatalogEditor.open("0".repeat(40), async () => file, { mtime: T0 });
    await editor.putSymlink("/c", "d", { mode: 0o777, uid: 0, gid: 0, mtime: T0, mtimeNs: 42 });
    const { rootHash } = await editor.finish(store, { revision: 5 });
    editor.close();
    const cat = openCatalog(await readObject(store, rootHash, "C"));
    expect(cat.properties()).toMatchObject({ schema_revision: "7", revision: "5", previous_revision: "0".repeat(40) });
    expect(cat.lookup("/c")!.mtimeNs).toBe(42);
    expect(cat.lookup("/a")!.mtimeNs).toBeNull();
    expect(cat.counters().self.symlink).toBe(2);
    cat.close();
  });

  it("refuses a file that is not a catalog", async () => {
    const file = join(stores.dir(), "junk.sqlite");
    await writeFile(file, "not sqlite at all");
    expect(() => openCatalog(file)).toThrow(CatalogError);
    expect(() => openCatalog(Buffer.from("junk"))).toThrow(CatalogError);
  });
});
