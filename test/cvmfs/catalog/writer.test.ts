import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { counterTotals, recountSelf, zeroCounterSet, type CounterSet } from "../../../src/cvmfs/catalog/counters.js";
import { CatalogDb } from "../../../src/cvmfs/catalog/db.js";
import { CATALOG_DDL } from "../../../src/cvmfs/catalog/schema.js";
import { openCatalog, type CatalogReader } from "../../../src/cvmfs/catalog/reader.js";
import { writeImageCatalogs, type WrittenCatalog } from "../../../src/cvmfs/catalog/writer.js";
import { memoryLogger } from "../../../src/logger.js";
import { md5PathKey } from "../../../src/cvmfs/catalog/md5-path.js";
import { serializeXattrs } from "../../../src/cvmfs/catalog/xattr-blob.js";
import type { DirNode } from "../../../src/tree/types.js";
import type { LocalContentStore } from "../../../src/cvmfs/objects/local-content-store.js";
import { dir, fakeHash, file, readObject, special, symlink, T0, useStores } from "./catalog-support.js";

const stores = useStores();

const MP = "/.images/ab/cdef";
const EMPTY_SHA1 = "e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78";
const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString("hex"));
/** The name a CREATE statement gives its table or index. */
const ddlName = (ddl: string): string => /^CREATE (?:TABLE|INDEX) (\w+)/.exec(ddl)![1]!;

function imageTree(): DirNode {
  const shContent = { size: 100, hash: fakeHash("sh") };
  const big = {
    size: 30,
    hash: null,
    chunks: [
      { offset: 0, size: 10, hash: fakeHash("c0") },
      { offset: 10, size: 10, hash: fakeHash("c1") },
      { offset: 20, size: 10, hash: fakeHash("c2") },
    ],
  };
  return dir(
    {
      bin: dir({ sh: file(shContent, {}, 7), ls: file(shContent, {}, 7) }),
      etc: dir({ passwd: file({ size: 10, hash: fakeHash("passwd") }, { mode: 0o600, xattrs: { "user.x": Buffer.from("1") } }) }),
      lib: symlink("usr/lib"),
      dev: dir({ null: special("char", 1, 3), fifo: special("fifo") }),
      big: file(big, { uid: 1000, gid: 100, mtimeNs: 123456789 }),
      data: dir({ ".cvmfscatalog": file({ size: 0, hash: EMPTY_SHA1 }), f1: file({ size: 5, hash: fakeHash("f1") }), sub: dir() }, { mode: 0o700 }),
    },
    { mtime: T0 + 1 },
  );
}

async function openStored(store: LocalContentStore, hash: string): Promise<CatalogReader> {
  return openCatalog(await readObject(store, hash, "C"));
}

describe("writeImageCatalogs", () => {
  it("writes rows, flags, counters and properties column by column", async () => {
    const store = await stores.store();
    const ref = await writeImageCatalogs(imageTree(), MP, store, { mtime: T0 });
    const top = await openStored(store, ref.hash);
    expect(ref.size).toBe((await readObject(store, ref.hash, "C")).length);
    expect(top.properties()).toEqual({ schema: "2.5", schema_revision: "7", revision: "1", last_modified: String(T0), root_prefix: MP });

    const root = top.lookup(MP)!;
    expect(root.row).toMatchObject({
      md5path: md5PathKey(MP),
      parent: md5PathKey("/.images/ab"),
      hardlinks: 6,
      hash: null,
      size: 4096,
      mode: 0o40755,
      mtime: T0 + 1,
      mtimens: 0,
      flags: 33,
      name: "cdef",
      symlink: "",
      uid: 0,
      gid: 0,
      xattr: null,
    });
    const marker = top.lookup(`${MP}/.cvmfscatalog`)!;
    expect([marker.flags, marker.size, hex(marker.row.hash), marker.mode, marker.mtime]).toEqual([4, 0, EMPTY_SHA1, 0o100644, T0]);
    expect(await store.has(EMPTY_SHA1, "")).toBe(true);

    const sh = top.lookup(`${MP}/bin/sh`)!;
    const ls = top.lookup(`${MP}/bin/ls`)!;
    for (const e of [sh, ls]) {
      expect([e.flags, e.row.hardlinks, e.size, e.hash, e.mode]).toEqual([4, 1, 100, fakeHash("sh"), 0o100644]);
    }
    expect(sh.row.parent).toEqual(md5PathKey(`${MP}/bin`));
    expect(top.lookup(`${MP}/bin`)!.row.hardlinks).toBe(2);

    const passwd = top.lookup(`${MP}/etc/passwd`)!;
    expect(passwd.row.xattr).toEqual(serializeXattrs({ "user.x": Buffer.from("1") }));
    expect(passwd.xattrs).toEqual({ "user.x": Buffer.from("1") });
    expect(passwd.mode).toBe(0o100600);

    const lib = top.lookup(`${MP}/lib`)!;
    expect([lib.flags, lib.size, lib.symlink, lib.mode, lib.row.hash]).toEqual([12, 7, "usr/lib", 0o120777, null]);
    const devnull = top.lookup(`${MP}/dev/null`)!;
    expect([devnull.flags, devnull.size, devnull.mode]).toEqual([20, 259, 0o20666]);
    const fifo = top.lookup(`${MP}/dev/fifo`)!;
    expect([fifo.flags, fifo.size, fifo.mode]).toEqual([20, 0, 0o10666]);

    const big = top.lookup(`${MP}/big`)!;
    expect([big.flags, big.row.hash, big.size, big.uid, big.gid, big.mtimeNs]).toEqual([68, null, 30, 1000, 100, 123456789]);
    expect(top.chunks(`${MP}/big`)).toEqual([
      { offset: 0, size: 10, hash: fakeHash("c0") },
      { offset: 10, size: 10, hash: fakeHash("c1") },
      { offset: 20, size: 10, hash: fakeHash("c2") },
    ]);

    // The nested catalog at data/ (it holds a .cvmfscatalog): mountpoint row 3 here, root row 33 there.
    const mount = top.lookup(`${MP}/data`)!;
    expect([mount.flags, mount.row.hardlinks, mount.mode]).toEqual([3, 3, 0o40700]);
    expect(top.lookup(`${MP}/data/f1`)).toBeUndefined();
    const [nested] = top.nested();
    expect(top.nested()).toHaveLength(1);
    expect(nested!.path).toBe(`${MP}/data`);
    const child = await openStored(store, nested!.hash);
    expect(nested!.size).toBe((await readObject(store, nested!.hash, "C")).length);
    expect(child.properties().root_prefix).toBe(`${MP}/data`);
    const childRoot = child.lookup(`${MP}/data`)!;
    expect({ ...childRoot.row, flags: 3 }).toEqual(mount.row);
    expect(childRoot.flags).toBe(33);
    expect(child.listing(`${MP}/data`).map((e) => e.name)).toEqual([".cvmfscatalog", "f1", "sub"]);

    const childSelf: CounterSet = { ...zeroCounterSet(), regular: 2, dir: 2, file_size: 5 };
    expect(child.counters()).toEqual({ self: childSelf, subtree: zeroCounterSet() });
    expect(top.counters()).toEqual({
      self: {
        ...zeroCounterSet(),
        regular: 5,
        symlink: 1,
        special: 2,
        dir: 5,
        nested: 1,
        chunked: 1,
        chunks: 3,
        file_size: 240,
        chunked_size: 30,
        xattr: 1,
      },
      subtree: childSelf,
    });
    expect(ref.counters).toEqual(top.counters());
    expect(ref.rootLinkcount).toBe(6);
    expect(ref.rootMeta).toMatchObject({ mode: 0o755, mtime: T0 + 1 });
    expect(top.entries()).toHaveLength(13);
    top.close();
    child.close();
  });

  it("gives every catalog the full schema, the parent index included, and an intact SQLite file", async () => {
    const store = await stores.store();
    const ref = await writeImageCatalogs(imageTree(), MP, store, { mtime: T0 });
    const db = CatalogDb.fromBytes(await readObject(store, ref.hash, "C"));
    try {
      const schema = db.db.prepare("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").all() as Array<{ type: string; name: string; sql: string }>;
      expect(schema.map((r) => r.sql.replace(/;$/, ""))).toEqual([...CATALOG_DDL].sort((x, y) => ddlName(x).localeCompare(ddlName(y))).map((d) => d.replace(/;$/, "")));
      expect(db.db.pragma("integrity_check", { simple: true })).toBe("ok");
      // Listing a directory goes through the index.
      const plan = db.db.prepare("EXPLAIN QUERY PLAN SELECT name FROM catalog WHERE parent_1 = 1 AND parent_2 = 2").all() as Array<{ detail: string }>;
      expect(plan.map((r) => r.detail).join(" ")).toContain("idx_catalog_parent");
      expect(db.listRows(md5PathKey(`${MP}/bin`)).map((r) => r.name).sort()).toEqual(["ls", "sh"]);
    } finally {
      db.close();
    }
  });

  it("is deterministic for a fixed mtime", async () => {
    const a = await stores.store();
    const b = await stores.store();
    const ra = await writeImageCatalogs(imageTree(), MP, a, { mtime: T0 });
    const rb = await writeImageCatalogs(imageTree(), MP, b, { mtime: T0 });
    expect(ra.hash).toBe(rb.hash);
  });

  it("splits subtrees so that every catalog stays within maxEntries", async () => {
    const store = await stores.store();
    // 3 top dirs × 4 subdirs × 12 files, plus one flat dir of 30 files: 230 nodes.
    const top: Record<string, DirNode> = {};
    for (let a = 0; a < 3; a++) {
      const subs: Record<string, DirNode> = {};
      for (let b = 0; b < 4; b++) {
        subs[`s${b}`] = dir(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, file({ size: i, hash: fakeHash(`${a}${b}${i}`) })])));
      }
      top[`d${a}`] = dir(subs);
    }
    top.flat = dir(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`x${i}`, symlink(`t${i}`)])));
    const tree = dir(top);
    const ref = await writeImageCatalogs(tree, MP, store, { maxEntries: 50, mtime: T0 });

    // Walk every catalog: sizes, recounted self counters, subtree = sum of children.
    let catalogs = 0;
    let rows = 0;
    let mountpoints = 0;
    const check = async (hash: string, size: number): Promise<CounterSet> => {
      const bytes = await readObject(store, hash, "C");
      expect(bytes.length).toBe(size);
      const db = CatalogDb.fromBytes(bytes);
      const counters = db.counters();
      const n = db.allRows().length;
      expect(n).toBeLessThanOrEqual(50);
      catalogs++;
      rows += n;
      expect(recountSelf(db.db)).toEqual(counters.self);
      const sum = zeroCounterSet();
      for (const nested of db.nested()) {
        mountpoints++;
        const t = await check(nested.hash, nested.size);
        for (const k of Object.keys(sum) as Array<keyof CounterSet>) sum[k] += t[k];
      }
      expect(counters.subtree).toEqual(sum);
      db.close();
      return counterTotals(counters);
    };
    const totals = await check(ref.hash, ref.size);
    expect(catalogs).toBeGreaterThan(4);
    // Every tree node once, plus a marker per catalog and a second row per mountpoint.
    const nodes = 1 + 3 + 12 + 144 + 1 + 30;
    expect(rows).toBe(nodes + catalogs + mountpoints);
    expect(totals.regular).toBe(144 + catalogs);
    expect(totals.symlink).toBe(30);
    expect(totals.dir).toBe(1 + 3 + 12 + 1 + mountpoints);
    expect(totals.nested).toBe(catalogs - 1);
    expect(createHash("sha1").update(await readFile(store.objectPath(ref.hash, "C"))).digest("hex")).toBe(ref.hash);
  });
  it("stores rows in primary-key order (signed 64-bit), which fills the key index's pages", async () => {
    const store = await stores.store();
    const names = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`n${i}`, symlink("t")]));
    const ref = await writeImageCatalogs(dir({ a: dir(names), ...names }), MP, store, { mtime: T0 });
    const db = CatalogDb.fromBytes(await readObject(store, ref.hash, "C"));
    try {
      const keys = db.db.prepare("SELECT md5path_1 AS a, md5path_2 AS b FROM catalog ORDER BY rowid").safeIntegers(true).all() as Array<{ a: bigint; b: bigint }>;
      expect(keys).toHaveLength(603);
      const sorted = [...keys].sort((x, y) => (x.a < y.a ? -1 : x.a > y.a ? 1 : x.b < y.b ? -1 : x.b > y.b ? 1 : 0));
      expect(keys).toEqual(sorted);
      expect(keys.some((k) => k.a < 0n) && keys.some((k) => k.a > 0n)).toBe(true);
    } finally {
      db.close();
    }
  });

  it("warns through its logger about a directory too big for any catalog, and still writes it", async () => {
    const store = await stores.store();
    const logger = memoryLogger();
    const flat = dir(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x${i}`, symlink(`t${i}`)])));
    const written: WrittenCatalog[] = [];
    await writeImageCatalogs(dir({ etc: dir({ passwd: symlink("p") }), flat }), MP, store, {
      maxEntries: 50,
      mtime: T0,
      logger,
      onCatalog: (c) => void written.push(c),
    });
    expect(logger.events).toEqual([
      {
        level: "warn",
        event: "catalog.oversized",
        message: expect.stringMatching(new RegExp(`^${MP}/flat holds 60 entries of its own, more than the 50 a catalog should hold`)),
        fields: { path: `${MP}/flat`, entries: 60, maxEntries: 50 },
      },
    ]);
    // The directory became a catalog of its own (its root row, a marker and its 60 entries),
    // which keeps the image's top catalog small.
    expect(written.map((c) => [c.path, c.entries])).toEqual([
      [`${MP}/flat`, 62],
      [MP, 5],
    ]);
  });

  it("stays quiet about trees that fit", async () => {
    const store = await stores.store();
    const logger = memoryLogger();
    await writeImageCatalogs(imageTree(), MP, store, { mtime: T0, logger });
    expect(logger.events).toEqual([]);
  });
});
