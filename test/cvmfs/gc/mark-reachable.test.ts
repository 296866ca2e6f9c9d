import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { CatalogEditor } from "../../../src/cvmfs/catalog/editor.js";
import { markReachable } from "../../../src/cvmfs/gc/mark-reachable.js";
import { RepositoryError } from "../../../src/errors.js";
import { silentLogger } from "../../../src/logger.js";
import { readObject, T0, useStores } from "../catalog/catalog-support.js";

const stores = useStores();
const h = (byte: string) => byte.repeat(20);
const meta = { mode: 0o644, uid: 0, gid: 0, mtime: T0, mtimeNs: 0 };

describe("markReachable", () => {
  it("marks the catalog, whole files (any algorithm) and chunks, and no external file", async () => {
    const store = await stores.store();
    const editor = await CatalogEditor.open(null, () => Promise.reject(new Error("no catalogs")), { mtime: T0 });
    await editor.putFile("/plain", { size: 3, hash: h("22") }, meta);
    await editor.putFile("/rmd", { size: 3, hash: `${h("33")}-rmd160` }, meta);
    await editor.putFile("/big", { size: 8, hash: null, chunks: [{ offset: 0, size: 4, hash: h("44") }, { offset: 4, size: 4, hash: h("55") }] }, meta);
    await editor.putFile("/ext", { size: 5, hash: h("66") }, meta);
    await editor.putSymlink("/link", "plain");
    const { rootHash } = await editor.finish(store, { revision: 1 });
    editor.close();
    // Flag /ext as external data (128): its bytes live outside data/, so it names no object.
    const file = join(stores.dir(), "ext.sqlite");
    await writeFile(file, await readObject(store, rootHash, "C"));
    const db = new Database(file);
    db.prepare("UPDATE catalog SET flags = flags | 128 WHERE name = 'ext'").run();
    db.close();
    const root = await store.putBuffer(await readFile(file), "C");

    const reachable = new Set<string>();
    const read = await markReachable(store, [root, root], reachable, { tmpDir: stores.dir(), logger: silentLogger });
    expect(read).toBe(1);
    expect([...reachable].sort()).toEqual([`${root}C`, h("22"), `${h("33")}-rmd160`, `${h("44")}P`, `${h("55")}P`].sort());
  });

  it("refuses a hierarchy it cannot read whole, naming the catalog", async () => {
    const store = await stores.store();
    const missing = h("77");
    await expect(markReachable(store, [missing], new Set(), { tmpDir: stores.dir(), logger: silentLogger })).rejects.toThrow(RepositoryError);
    await expect(markReachable(store, [missing], new Set(), { tmpDir: stores.dir(), logger: silentLogger })).rejects.toThrow(
      `catalog ${missing}C (/) of root ${missing}`,
    );
  });
});
