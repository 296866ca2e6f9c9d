import { describe, expect, it } from "vitest";
import { counterTotals, recountSelf, zeroCounterSet } from "../../../src/cvmfs/catalog/counters.js";
import { CatalogDb } from "../../../src/cvmfs/catalog/db.js";
import { applyCatalogChange, diffCatalogTrees, type CatalogChange } from "../../../src/cvmfs/catalog/diff.js";
import { CatalogEditor, createEmptyRootCatalog } from "../../../src/cvmfs/catalog/editor.js";
import { openCatalog, type CatalogReader } from "../../../src/cvmfs/catalog/reader.js";
import { writeImageCatalogs, type NestedCatalogRef } from "../../../src/cvmfs/catalog/writer.js";
import type { LocalContentStore } from "../../../src/cvmfs/objects/local-content-store.js";
import { md5PathKey, ZERO_KEY } from "../../../src/cvmfs/catalog/md5-path.js";
import { dir, fakeHash, file, readObject, storeLoader, T0, useStores } from "./catalog-support.js";

const stores = useStores();
const IMG = "/.images/ab/cdef0123";
const TAG = "/library/alpine:3";

async function read(store: LocalContentStore, hash: string): Promise<CatalogReader> {
  return openCatalog(await readObject(store, hash, "C"));
}

async function setup(): Promise<{ store: LocalContentStore; loader: (h: string) => Promise<string>; empty: string; ref: NestedCatalogRef }> {
  const store = await stores.store();
  const loader = storeLoader(store, stores.dir());
  const ed = await CatalogEditor.open(null, loader, { mtime: T0 });
  const r = await ed.finish(store, { revision: 1 });
  ed.close();
  const tree = dir({ bin: dir({ sh: file({ size: 50, hash: fakeHash("sh") }) }), etc: dir() }, { mtime: T0 + 5, uid: 1, xattrs: { "user.k": Buffer.from("v") } });
  const ref = await writeImageCatalogs(tree, IMG, store, { mtime: T0 });
  return { store, loader, empty: r.rootHash, ref };
}

describe("CatalogEditor", () => {
  it("creates an empty root catalog", async () => {
    const { store, empty } = await setup();
    const root = await read(store, empty);
    expect(root.properties()).toEqual({ schema: "2.5", schema_revision: "7", revision: "1", last_modified: String(T0) });
    const e = root.lookup("/")!;
    expect(e.row).toMatchObject({ md5path: md5PathKey(""), parent: ZERO_KEY, hardlinks: 2, flags: 1, mode: 0o40755, size: 4096, uid: 0, gid: 0, name: "" });
    expect(root.counters()).toEqual({ self: { ...zeroCounterSet(), dir: 1 }, subtree: zeroCounterSet() });
    root.close();
  });

  it("createEmptyRootCatalog stores revision 0 and the same rows", async () => {
    const store = await stores.store();
    const { rootHash, rootSize } = await createEmptyRootCatalog(store, { mtime: T0 });
    const root = await read(store, rootHash);
    expect(rootSize).toBe((await readObject(store, rootHash, "C")).length);
    expect(root.properties()).toEqual({ schema: "2.5", schema_revision: "7", revision: "0", last_modified: String(T0) });
    expect(root.entries().map((e) => [e.name, e.flags, e.linkcount])).toEqual([["", 1, 2]]);
    root.close();
  });

  it("makes new gathering directories catalogs of their own, and leaves existing ones as they are", async () => {
    const { store, loader, empty, ref } = await setup();
    const ed = await CatalogEditor.open(empty, loader, { mtime: T0 });
    await ed.ensureNestedDir("/.images");
    await ed.ensureNestedDir("/.images/ab");
    await ed.ensureNestedDir("/.images/ab"); // already there: nothing more
    await ed.mountNested(IMG, ref);
    await ed.putSymlink(TAG, "../.images/ab/cdef0123");
    const r = await ed.finish(store, { revision: 2 });
    ed.close();
    expect(r.written).toHaveLength(3);
    const root = await read(store, r.rootHash);
    const images = await read(store, root.nested()[0]!.hash);
    const fan = await read(store, images.nested()[0]!.hash);
    // The root holds the name and one mountpoint; the image's row sits two catalogs down.
    expect(root.entries().map((e) => [e.name, e.flags]).sort()).toEqual([["", 1], [".images", 3], ["alpine:3", 12], ["library", 1]]);
    expect(root.nested().map((n) => n.path)).toEqual(["/.images"]);
    expect(images.properties().root_prefix).toBe("/.images");
    expect(images.entries().map((e) => [e.name, e.flags, e.linkcount]).sort()).toEqual([[".images", 33, 3], ["ab", 3, 3]]);
    expect(fan.properties().root_prefix).toBe("/.images/ab");
    expect(fan.entries().map((e) => [e.name, e.flags]).sort()).toEqual([["ab", 33], ["cdef0123", 3]]);
    expect(fan.nested()).toEqual([{ path: IMG, hash: ref.hash, size: ref.size }]);
    // Mountpoint rows and nested roots agree (linkcount counts the subdirectory made inside).
    expect({ ...images.lookup("/.images")!.row, flags: 3 }).toEqual(root.lookup("/.images")!.row);
    expect({ ...fan.lookup("/.images/ab")!.row, flags: 3 }).toEqual(images.lookup("/.images/ab")!.row);
    // Counters: each parent's subtree is exactly its children's totals.
    expect(fan.counters().subtree).toEqual(counterTotals(ref.counters));
    expect(images.counters().subtree).toEqual(counterTotals(fan.counters()));
    expect(root.counters().subtree).toEqual(counterTotals(images.counters()));
    for (const hash of r.written) {
      const db = CatalogDb.fromBytes(await readObject(store, hash, "C"));
      expect(db.counters().self).toEqual(recountSelf(db.db));
      db.close();
    }
    root.close();
    images.close();
    fan.close();

    // A plain directory that exists already stays plain.
    const ed2 = await CatalogEditor.open(empty, loader, { mtime: T0 });
    await ed2.ensureDir("/plain");
    await ed2.ensureNestedDir("/plain");
    const r2 = await ed2.finish(store, { revision: 2 });
    ed2.close();
    expect(r2.written).toHaveLength(1);
  });

  it("keeps a mountpoint row and its nested root row alike when the directory's metadata changes", async () => {
    const { store, loader, empty, ref } = await setup();
    const ed = await CatalogEditor.open(empty, loader, { mtime: T0 });
    await ed.mountNested(IMG, ref);
    await ed.ensureDir(IMG, { mode: 0o711, uid: 7, gid: 8, mtime: T0 + 99, mtimeNs: 1 });
    const r = await ed.finish(store, { revision: 2 });
    ed.close();
    const root = await read(store, r.rootHash);
    const child = await read(store, root.nested()[0]!.hash);
    expect(r.written).toHaveLength(2);
    const m = root.lookup(IMG)!;
    expect(m.row).toMatchObject({ flags: 3, mode: 0o40711, uid: 7, gid: 8, mtime: T0 + 99, mtimens: 1, xattr: null });
    expect({ ...child.lookup(IMG)!.row, flags: 3 }).toEqual(m.row);
    // The xattr left both rows: both catalogs' counters follow.
    expect(child.counters().self.xattr).toBe(0);
    expect(root.counters().self.xattr).toBe(0);
    expect(root.counters().subtree).toEqual(counterTotals(child.counters()));
    root.close();
    child.close();
  });

  it("mounts an image, adds a tag, edits inside the nested catalog, then removes both", async () => {
    const { store, loader, empty, ref } = await setup();

    // Revision 2: mount the image and tag it.
    const ed2 = await CatalogEditor.open(empty, loader, { mtime: T0 + 10 });
    await ed2.mountNested(IMG, ref);
    await ed2.putSymlink(TAG, "../.images/ab/cdef0123");
    const r2 = await ed2.finish(store, { revision: 2 });
    ed2.close();
    expect(r2.written).toEqual([r2.rootHash]);
    const root2 = await read(store, r2.rootHash);
    expect(root2.properties()).toMatchObject({ revision: "2", previous_revision: empty, last_modified: String(T0 + 10) });
    expect(root2.lookup("/")!.linkcount).toBe(4);
    expect(root2.lookup("/.images")!.row).toMatchObject({ flags: 1, hardlinks: 3, mode: 0o40755, mtime: T0 + 10, uid: 0 });
    expect(root2.lookup("/.images/ab")!.linkcount).toBe(3);
    const mount = root2.lookup(IMG)!;
    expect(mount.row).toMatchObject({ flags: 3, hardlinks: ref.rootLinkcount, mode: 0o40755, mtime: T0 + 5, uid: 1, name: "cdef0123" });
    const child = await read(store, ref.hash);
    expect({ ...child.lookup(IMG)!.row, flags: 3 }).toEqual(mount.row);
    const tag = root2.lookup(TAG)!;
    expect([tag.flags, tag.symlink, tag.size, tag.mode, tag.row.parent]).toEqual([12, "../.images/ab/cdef0123", 22, 0o120777, md5PathKey("/library")]);
    expect(root2.nested()).toEqual([{ path: IMG, hash: ref.hash, size: ref.size }]);
    expect(root2.counters()).toEqual({
      // The mountpoint row carries the image root's xattrs, as the nested root row does.
      self: { ...zeroCounterSet(), dir: 5, symlink: 1, nested: 1, xattr: 1 },
      subtree: counterTotals(ref.counters),
    });

    // Revision 3: a file inside the image's catalog.
    const ed3 = await CatalogEditor.open(r2.rootHash, loader, { mtime: T0 + 20 });
    await ed3.putFile(`${IMG}/etc/motd`, { size: 7, hash: fakeHash("motd") }, { mode: 0o644, uid: 0, gid: 0, mtime: T0, mtimeNs: 0 });
    await ed3.ensureDir(`${IMG}/new/deep`);
    expect((await ed3.lookup(`${IMG}/new`))!.linkcount).toBe(3);
    const r3 = await ed3.finish(store, { revision: 3 });
    ed3.close();
    expect(r3.written).toHaveLength(2);
    const root3 = await read(store, r3.rootHash);
    const [n3] = root3.nested();
    expect(n3!.hash).toBe(r3.written[0]);
    const child3 = await read(store, n3!.hash);
    expect(child3.properties()).toMatchObject({ revision: "2", previous_revision: ref.hash, root_prefix: IMG });
    expect(child3.lookup(`${IMG}/etc/motd`)!.hash).toBe(fakeHash("motd"));
    // The image root gained a subdirectory: both of its rows say so.
    expect(child3.lookup(IMG)!.linkcount).toBe(ref.rootLinkcount + 1);
    expect(root3.lookup(IMG)!.linkcount).toBe(ref.rootLinkcount + 1);
    const c3 = child3.counters();
    expect(c3.self).toEqual({ ...ref.counters.self, regular: ref.counters.self.regular + 1, file_size: ref.counters.self.file_size + 7, dir: ref.counters.self.dir + 2 });
    expect(root3.counters().subtree).toEqual(counterTotals(c3));
    expect(n3!.size).toBe((await readObject(store, n3!.hash, "C")).length);

    // Revision 4: remove the tag and the image again.
    const ed4 = await CatalogEditor.open(r3.rootHash, loader, { mtime: T0 + 30 });
    expect(await ed4.remove(TAG)).toBe(true);
    expect(await ed4.remove(IMG)).toBe(true);
    expect(await ed4.remove("/nothing/here")).toBe(false);
    const r4 = await ed4.finish(store, { revision: 4 });
    ed4.close();
    const root4 = await read(store, r4.rootHash);
    expect(root4.nested()).toEqual([]);
    expect(root4.lookup(TAG)).toBeUndefined();
    expect(root4.lookup("/.images/ab")!.linkcount).toBe(2);
    expect(root4.counters()).toEqual({ self: { ...zeroCounterSet(), dir: 4 }, subtree: zeroCounterSet() });
    for (const c of [root2, child, root3, child3, root4]) c.close();
  });

  it("removes a subtree with nested mountpoints and replaces entries of another kind", async () => {
    const { store, loader, empty, ref } = await setup();
    const ed = await CatalogEditor.open(empty, loader, { mtime: T0 });
    await ed.mountNested(IMG, ref);
    const other = await writeImageCatalogs(dir({ a: dir({ b: dir() }) }), "/.images/ff/other", store, { mtime: T0, maxEntries: 3 });
    await ed.mountNested("/.images/ff/other", other);
    await ed.putSymlink("/x", "y");
    await ed.ensureDir("/x/sub", { mode: 0o700, uid: 5, gid: 6, mtime: T0 + 1, mtimeNs: 9 });
    expect(await ed.remove("/.images")).toBe(true);
    const r = await ed.finish(store, { revision: 2 });
    ed.close();
    const root = await read(store, r.rootHash);
    expect(root.nested()).toEqual([]);
    expect(root.lookup("/x")!.kind).toBe("dir");
    expect(root.lookup("/x/sub")!.row).toMatchObject({ mode: 0o40700, uid: 5, gid: 6, mtime: T0 + 1, mtimens: 9 });
    expect(root.lookup("/")!.linkcount).toBe(3);
    const db = CatalogDb.fromBytes(await readObject(store, r.rootHash, "C"));
    expect(root.counters()).toEqual({ self: recountSelf(db.db), subtree: zeroCounterSet() });
    expect(root.counters().self.dir).toBe(3);
    db.close();
    root.close();
  });

  it("walks through nested catalogs and replays a diff onto another root", async () => {
    const { store, loader, empty, ref } = await setup();
    const ed = await CatalogEditor.open(empty, loader, { mtime: T0 });
    await ed.ensureDir("/.images/ab");
    const base = await ed.finish(store, { revision: 2 });
    ed.close();
    const edNew = await CatalogEditor.open(base.rootHash, loader, { mtime: T0 });
    await edNew.mountNested(IMG, ref);
    await edNew.putSymlink(TAG, "../.images/ab/cdef0123");
    const changed = await edNew.finish(store, { revision: 3 });
    edNew.close();

    const from = await CatalogEditor.open(base.rootHash, loader);
    const to = await CatalogEditor.open(changed.rootHash, loader);
    const walked: string[] = [];
    for await (const w of to.walk("/")) walked.push(`${w.path || "/"}${w.nested ? " (nested)" : ""}`);
    expect(walked).toEqual(["/", "/.images", "/.images/ab", `${IMG} (nested)`, `${IMG}/.cvmfscatalog`, `${IMG}/bin`, `${IMG}/bin/sh`, `${IMG}/etc`, "/library", TAG]);

    const imageChanges: CatalogChange[] = [];
    for await (const c of diffCatalogTrees(from, to, IMG)) imageChanges.push(c);
    expect(imageChanges.map((c) => [c.kind, c.path, c.kind === "add" ? c.nested?.hash : undefined])).toEqual([["add", IMG, ref.hash]]);
    const tagChanges: CatalogChange[] = [];
    for await (const c of diffCatalogTrees(from, to, "/library")) tagChanges.push(c);
    expect(tagChanges.map((c) => [c.kind, c.path])).toEqual([["add", "/library"], ["add", TAG]]);

    // Replay onto a root that moved on meanwhile (another tag appeared).
    const edCur = await CatalogEditor.open(base.rootHash, loader, { mtime: T0 });
    await edCur.putSymlink("/library/busybox:1", "x");
    for (const c of [...imageChanges, ...tagChanges]) await applyCatalogChange(edCur, c);
    const merged = await edCur.finish(store, { revision: 4 });
    edCur.close();
    const m = await read(store, merged.rootHash);
    expect(m.listing("/library").map((e) => e.name)).toEqual(["alpine:3", "busybox:1"]);
    expect(m.nested()).toEqual([{ path: IMG, hash: ref.hash, size: ref.size }]);
    expect(m.counters()).toEqual({ self: { ...zeroCounterSet(), dir: 5, symlink: 2, nested: 1, xattr: 1 }, subtree: counterTotals(ref.counters) });

    // A removal diff: the image goes away again.
    const back: CatalogChange[] = [];
    for await (const c of diffCatalogTrees(to, from, IMG)) back.push(c);
    expect(back.map((c) => [c.kind, c.path])).toEqual([["remove", IMG]]);
    from.close();
    to.close();
    m.close();
  });
});
