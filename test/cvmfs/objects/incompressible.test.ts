import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { catalogRow, compressionOfFlags, decodeRow, Flag } from "../../../src/cvmfs/catalog/row.js";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import { COMPRESSOR_ENV, resolveCompressor } from "../../../src/cvmfs/objects/compressor.js";
import { objectPath } from "../../../src/cvmfs/objects/hash.js";
import { compressedFormatOf } from "../../../src/cvmfs/objects/incompressible.js";
import type { FileContent } from "../../../src/content/content-store.js";
import type { FileNode } from "../../../src/tree/types.js";
import { availableCompressors, expectedObject, seededBytes, textBytes } from "./object-fixtures.js";

const KiB = 1024;

describe("compressedFormatOf", () => {
  it.each([
    ["gzip", gzipSync(Buffer.from("x"))],
    ["xz", Buffer.from("fd377a585a000004", "hex")],
    ["zstd", Buffer.from("28b52ffd0058", "hex")],
    ["bzip2", Buffer.from("BZh91AY&SY")],
    ["zip", Buffer.from("504b0304140000000800", "hex")],
    ["zip (empty)", Buffer.from("504b0506", "hex")],
    ["lz4", Buffer.from("04224d1864", "hex")],
    ["7z", Buffer.from("377abcaf271c0004", "hex")],
    ["png", Buffer.from("89504e470d0a1a0a0000", "hex")],
    ["jpeg", Buffer.from("ffd8ffe000104a46", "hex")],
    ["gif", Buffer.from("GIF89a")],
    ["woff2", Buffer.from("774f46320001", "hex")],
  ])("knows %s by its magic bytes", (format, head) => {
    expect(compressedFormatOf(head)).toBe(format);
  });

  it.each([
    ["text", Buffer.from("hello world\n")],
    ["text starting like bzip2", Buffer.from("BZh is a word")],
    ["an ELF binary", Buffer.from("7f454c4602010100", "hex")],
    ["a magic cut short", Buffer.from("fd377a", "hex")],
    ["nothing", Buffer.alloc(0)],
  ])("takes %s for uncompressed", (_name, head) => {
    expect(compressedFormatOf(head)).toBeNull();
  });
});

describe("resolveCompressor", () => {
  it("picks zlib on request and by the environment, and refuses unknown names", () => {
    expect(resolveCompressor("zlib")).toMatchObject({ name: "zlib", addon: null, level: 6 });
    expect(() => resolveCompressor("brotli")).toThrow(ConfigError);
    const before = process.env[COMPRESSOR_ENV];
    process.env[COMPRESSOR_ENV] = "zlib";
    try {
      expect(resolveCompressor().name).toBe("zlib");
      const pool = new CompressPool({ size: 1 });
      expect(pool.compressor.name).toBe("zlib");
      void pool.close();
    } finally {
      if (before === undefined) delete process.env[COMPRESSOR_ENV];
      else process.env[COMPRESSOR_ENV] = before;
    }
  });

  it("falls back to zlib under auto when the addon is missing, and uses it when present", () => {
    const auto = resolveCompressor("auto");
    expect(["libdeflate", "zlib"]).toContain(auto.name);
    if (auto.name === "libdeflate") {
      expect(auto.addon).toMatch(/index\.cjs$/);
      expect(resolveCompressor("libdeflate").version).toMatch(/^1\.\d+/);
    } else {
      expect(() => resolveCompressor("libdeflate")).toThrow(ConfigError);
    }
  });
});

describe.each(availableCompressors().map((c) => [c.name, c] as const))("compression decisions with %s", (_name, compressor) => {
  let root: string;
  let pool: CompressPool;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "cis-incompressible-"));
    pool = new CompressPool({ size: 2, compressor: compressor.name });
  });
  afterAll(async () => {
    await pool.close();
    await rm(root, { recursive: true, force: true });
  });

  const store = async (content: Buffer, opts: Parameters<CompressPool["openObject"]>[1], split = 7_000) => {
    const w = pool.openObject({ rootDir: root, algorithm: "sha1" }, opts);
    for (let o = 0; o < content.length; o += split) await w.write(content.subarray(o, o + split));
    return w.end("");
  };

  it.each([
    ["empty", Buffer.alloc(0), "zlib"],
    ["a few bytes (zlib would grow them)", Buffer.from("abc\n"), "none"],
    ["small text", textBytes(3 * KiB, 1), "zlib"],
    ["small random", seededBytes(3 * KiB, 2), "none"],
    ["gzip (magic)", gzipSync(textBytes(20 * KiB, 3)), "none"],
    ["png magic before zeros", Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(80 * KiB)]), "none"],
    ["text past the sample", textBytes(300 * KiB, 4), "zlib"],
    ["random past the sample", seededBytes(300 * KiB, 5), "none"],
    ["text sample, random after", Buffer.concat([textBytes(64 * KiB, 6), seededBytes(200 * KiB, 7)]), "zlib"],
    ["random sample, text after", Buffer.concat([seededBytes(64 * KiB, 8), textBytes(200 * KiB, 9)]), "none"],
    ["exactly the sample, text", textBytes(64 * KiB, 10), "zlib"],
  ])("stores %s as the reference rules say", async (_case, content, compression) => {
    const o = await store(content, { compression: "auto" });
    const expected = expectedObject(content, "sha1", compressor);
    expect(expected.compression).toBe(compression);
    expect(o).toMatchObject({ compression, hash: expected.hash, storedSize: expected.bytes.length, size: content.length });
    expect((await readFile(join(root, objectPath(o.hash, "")))).equals(expected.bytes)).toBe(true);
  });

  it("obeys a fixed compression, whatever the content", async () => {
    const random = seededBytes(100 * KiB, 11);
    const forced = await store(random, { compression: "zlib" });
    expect(forced.compression).toBe("zlib");
    expect(forced.storedSize).toBeGreaterThan(random.length);
    const raw = await store(textBytes(100 * KiB, 12), { compression: "none" });
    expect(raw).toMatchObject({ compression: "none", storedSize: 100 * KiB });
  });

  it("reports an early decision before the object ends, once the sample is in", async () => {
    const w = pool.openObject({ rootDir: root, algorithm: "sha1" }, { compression: "auto", reportCompression: true });
    await w.write(seededBytes(80 * KiB, 13));
    expect(await w.compression()).toBe("none");
    await w.write(textBytes(80 * KiB, 14));
    expect((await w.end("P")).compression).toBe("none");
    const plain = pool.openObject({ rootDir: root, algorithm: "sha1" }, { compression: "auto" });
    await expect(plain.compression()).rejects.toThrow(/reportCompression/);
    await plain.abort();
  });
});

describe("catalog rows of uncompressed files", () => {
  const file = (content: FileNode["content"]): FileNode => ({ type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 1, mtimeNs: 0, content, inode: 1 });
  const keys = { md5path: [1n, 2n] as [bigint, bigint], parent: [3n, 4n] as [bigint, bigint] };
  const hash = "a".repeat(40);

  it.each([
    ["whole, zlib", { size: 10, hash }, Flag.File],
    ["whole, none", { size: 10, hash, compression: "none" as const }, Flag.File | Flag.CompressionNone],
    ["chunked, none", { size: 10, hash: null, compression: "none" as const, chunks: [{ offset: 0, size: 5, hash }, { offset: 5, size: 5, hash: "b".repeat(40) }] }, Flag.File | Flag.Chunked | Flag.CompressionNone],
    ["whole, none, rmd160", { size: 10, hash: `${hash}-rmd160`, compression: "none" as const }, Flag.File | Flag.CompressionNone | 256],
  ] as Array<[string, FileContent, number]>)("flags %s", (_name, content, flags) => {
    const row = catalogRow(file(content), "f", keys);
    expect(row.flags).toBe(flags);
    expect(decodeRow(row).compression).toBe(content.compression ?? "zlib");
  });

  it("reads the compression bits as CVMFS's enum and rejects others", () => {
    expect(compressionOfFlags(4)).toBe("zlib");
    expect(compressionOfFlags(4 | 2048)).toBe("none");
    expect(() => compressionOfFlags(4 | 4096)).toThrow(/unknown compression/);
  });
});
