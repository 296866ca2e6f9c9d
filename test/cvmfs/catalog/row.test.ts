import { describe, expect, it } from "vitest";
import { CatalogError } from "../../../src/errors.js";
import { catalogRow, Col, COLUMN_COUNT, decodeRow, makedev, packHardlinks, writeRowColumns } from "../../../src/cvmfs/catalog/row.js";
import { md5PathKey } from "../../../src/cvmfs/catalog/md5-path.js";
import { dir, fakeHash, file, special, symlink } from "./catalog-support.js";

const keys = { md5path: md5PathKey("/a/x"), parent: md5PathKey("/a") };

describe("catalogRow", () => {
  it.each([
    ["sha1 file", file({ size: 3, hash: fakeHash("a") }), 4],
    ["rmd160 file", file({ size: 3, hash: `${fakeHash("a")}-rmd160` }), 4 | 256],
    ["shake128 file", file({ size: 3, hash: `${fakeHash("a")}-shake128` }), 4 | 512],
    [
      "rmd160 chunked file",
      file({ size: 9, hash: null, chunks: [{ offset: 0, size: 4, hash: `${fakeHash("0")}-rmd160` }, { offset: 4, size: 5, hash: `${fakeHash("1")}-rmd160` }] }),
      4 | 64 | 256,
    ],
    ["symlink", symlink("../t"), 12],
    ["fifo", special("fifo"), 20],
    ["socket", special("socket"), 20],
    ["char device", special("char", 1, 3), 20],
    ["directory", dir(), 1],
  ])("%s has flags %i", (_name, node, flags) => {
    expect(catalogRow(node, "x", keys).flags).toBe(flags);
  });

  it("marks nested catalog transition points", () => {
    expect(catalogRow(dir(), "x", keys, { role: "mountpoint" }).flags).toBe(3);
    expect(catalogRow(dir(), "x", keys, { role: "nestedRoot" }).flags).toBe(33);
  });

  it("stores the raw digest, or NULL for chunked files and non-files", () => {
    expect(catalogRow(file({ size: 1, hash: `${fakeHash("d")}-shake128` }), "x", keys).hash?.toString("hex")).toBe(fakeHash("d"));
    const chunked = file({ size: 9, hash: null, chunks: [{ offset: 0, size: 4, hash: fakeHash("0") }, { offset: 4, size: 5, hash: fakeHash("1") }] });
    expect(catalogRow(chunked, "x", keys).hash).toBeNull();
    expect(catalogRow(symlink("t"), "x", keys).hash).toBeNull();
    expect(() => catalogRow(file({ size: 1, hash: "zz" }), "x", keys)).toThrow(CatalogError);
  });

  it("sizes: directories 4096, symlinks the target's bytes, devices makedev", () => {
    expect(catalogRow(dir(), "x", keys).size).toBe(4096);
    expect(catalogRow(symlink("ü/t"), "x", keys).size).toBe(4);
    expect(catalogRow(special("block", 8, 1), "x", keys).size).toBe(2049);
    expect(catalogRow(special("fifo"), "x", keys).size).toBe(0);
  });

  it("linkcount: 2 + subdirectories for directories, 1 otherwise", () => {
    expect(catalogRow(dir(), "x", keys, { subdirs: 3 }).hardlinks).toBe(5);
    expect(catalogRow(file({ size: 1, hash: fakeHash("h") }, {}, 42), "x", keys).hardlinks).toBe(1);
  });

  it("decodes what it encodes", () => {
    const node = file({ size: 7, hash: `${fakeHash("r")}-rmd160` }, { mode: 0o4755, uid: 12, gid: 34, mtimeNs: 5, xattrs: { "user.a": Buffer.from("b") } });
    const e = decodeRow(catalogRow(node, "x", keys));
    expect(e).toMatchObject({ kind: "file", mode: 0o104755, uid: 12, gid: 34, mtimeNs: 5, hash: `${fakeHash("r")}-rmd160`, linkcount: 1, hardlinkGroup: 0 });
    expect(e.xattrs).toEqual({ "user.a": Buffer.from("b") });
  });
});

describe("writeRowColumns", () => {
  it("writes the columns catalogRow gives, decoding a digest into the caller's buffer", () => {
    for (const hash of [fakeHash("a"), `${fakeHash("b")}-rmd160`, `${fakeHash("c")}-shake128`]) {
      const node = file({ size: 3, hash }, { uid: 7, xattrs: { "user.k": Buffer.from("v") } });
      const digest = Buffer.alloc(20);
      const out: unknown[] = new Array(2 * COLUMN_COUNT);
      writeRowColumns(node, "x", 0, "plain", out, COLUMN_COUNT, digest);
      expect(out[COLUMN_COUNT + Col.hash]).toBe(digest);
      const row = catalogRow(node, "x", keys);
      expect(out.slice(COLUMN_COUNT + Col.hardlinks)).toEqual([row.hardlinks, row.hash, row.size, row.mode, row.mtime, row.mtimens, row.flags, "x", "", 7, 0, row.xattr]);
    }
  });

  it.each(["zz", `${fakeHash("a").slice(0, 39)}g`, `${fakeHash("a")}-md5`, `${fakeHash("a")}0`])("refuses the malformed hash %s", (hash) => {
    expect(() => writeRowColumns(file({ size: 1, hash }), "x", 0, "plain", [], 0, Buffer.alloc(20))).toThrow(CatalogError);
  });
});

describe("makedev and packHardlinks", () => {
  it.each([
    [1, 3, 259],
    [8, 1, 2049],
    [0, 256, 1048576],
    [4096, 0, 4096 * 2 ** 32],
    [259, 0x12345, 0x12300000 + 0x10300 + 0x45],
  ])("makedev(%i, %i) = %i", (major, minor, dev) => expect(makedev(major, minor)).toBe(dev));

  it("packs the group into the high 32 bits", () => {
    expect(packHardlinks(1, 5)).toBe(5 * 2 ** 32 + 1);
    expect(() => packHardlinks(0)).toThrow(CatalogError);
  });
});
