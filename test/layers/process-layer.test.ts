import { createHash } from "node:crypto";
import { rm, unlink } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { LayerError } from "../../src/errors.js";
import { memoryLogger } from "../../src/logger.js";
import { MediaTypes, type Layer } from "../../src/registry/image.js";
import { processLayer } from "../../src/layers/process-layer.js";
import { readLayerCache, writeLayerCache, layerCachePath } from "../../src/layers/layer-cache.js";
import { sniffCompression, uncompressedStream } from "../../src/layers/uncompressed-stream.js";
import type { LayerEntry } from "../../src/tree/layer-entry.js";
import { buildLayer, generateContent, type TestEntry } from "../support/layer-builder.js";
import { memoryImage } from "../support/oci-layout.js";
import { testdir, type Testdir } from "../support/testdir.js";
import { Readable } from "node:stream";

let dir: Testdir;
let store: LocalContentStore;
beforeAll(async () => {
  dir = await testdir();
  store = await LocalContentStore.create(dir.join("store"), { chunking: { min: 1 << 20, avg: 2 << 20, max: 4 << 20 } });
});
afterAll(async () => dir.cleanup());

const ENTRIES: TestEntry[] = [
  { type: "dir", path: "etc", mode: 0o755 },
  { type: "file", path: "etc/passwd", content: "root:x:0:0::/root:/bin/sh\n", mode: 0o644 },
  { type: "file", path: "etc/shadow", content: "secret\n", mode: 0o640, gid: 42 },
  { type: "symlink", path: "etc/mtab", target: "/proc/mounts" },
  { type: "hardlink", path: "etc/passwd-", target: "etc/passwd" },
  { type: "whiteout", path: "etc/gone" },
  { type: "opaque", path: "var" },
  { type: "file", path: "big.bin", content: { size: 6 << 20, seed: 3 } },
  { type: "char", path: "dev/null", devMajor: 1, devMinor: 3, mode: 0o666 },
];

function asLayer(blob: Buffer, mediaType: string, digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`): Layer {
  return { descriptor: { mediaType, digest, size: blob.length }, compressed: async () => Readable.from([blob]) };
}

function summary(entries: LayerEntry[]): string[] {
  return entries.map((e) => `${e.kind} ${e.name}${"target" in e ? ` -> ${e.target}` : ""}${"meta" in e ? ` ${e.meta.mode.toString(8)} ${e.meta.uid}:${e.meta.gid}` : ""}`);
}

describe("uncompressedStream", () => {
  it("sniffs the compression from the magic bytes", () => {
    expect(sniffCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBe("gzip");
    expect(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe("zstd");
    expect(sniffCompression(Buffer.from("etc/"))).toBe("none");
    expect(sniffCompression(Buffer.alloc(0))).toBe("none");
  });

  it("turns corrupt gzip into a LayerError on the stream", async () => {
    const bad = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(64, 0xee)]);
    await expect(text(uncompressedStream(Readable.from([bad])))).rejects.toThrow(LayerError);
  });
});

describe("processLayer", () => {
  const variants = [
    ["gzip", MediaTypes.ociLayerGzip],
    ["zstd", MediaTypes.ociLayerZstd],
    ["none", MediaTypes.ociLayer],
    ["gzip", MediaTypes.dockerLayerGzip],
    // Mislabelled: zstd bytes under a gzip media type still decode (the bytes decide).
    ["zstd", MediaTypes.ociLayerGzip],
  ] as const;

  it.each(variants)("decodes %s layers labelled %s to the same entries and bytes", async (compression, mediaType) => {
    const built = await buildLayer(ENTRIES, { compression });
    const progress: number[] = [];
    const result = await processLayer(asLayer(built.blob, mediaType), { store, onProgress: (b) => progress.push(b) });
    expect(summary(result.entries)).toEqual([
      "dir etc 755 0:0",
      "file etc/passwd 644 0:0",
      "file etc/shadow 640 0:42",
      "symlink etc/mtab -> /proc/mounts 777 0:0",
      "hardlink etc/passwd- -> etc/passwd",
      "whiteout etc/.wh.gone",
      "whiteout var/.wh..wh..opq",
      "file big.bin 644 0:0",
      "char dev/null 666 0:0",
    ]);
    expect(result.files).toBe(3);
    expect(result.bytes).toBe(26 + 7 + (6 << 20));
    expect(progress.at(-1)).toBeGreaterThan(6 << 20);
    const passwd = result.entries[1]!;
    if (passwd.kind !== "file") throw new Error("not a file");
    expect(await text(store.readFile(passwd.content))).toBe("root:x:0:0::/root:/bin/sh\n");
    const big = result.entries[7]!;
    if (big.kind !== "file") throw new Error("not a file");
    expect(big.content.chunks?.length).toBeGreaterThan(1);
    const want = createHash("sha256");
    for (const b of generateContent({ size: 6 << 20, seed: 3 })) want.update(b);
    const got = createHash("sha256");
    for await (const c of store.readFile(big.content)) got.update(c as Buffer);
    expect(got.digest("hex")).toBe(want.digest("hex"));
  });

  it("reports a non-distributable layer whose bytes cannot be had", async () => {
    const layer: Layer = {
      descriptor: { mediaType: MediaTypes.ociLayerNondistributableGzip, digest: "sha256:" + "a".repeat(64), size: 10, urls: ["https://example.invalid/layer"] },
      compressed: async () => {
        throw new Error("blob unknown to registry");
      },
    };
    const err = await processLayer(layer, { store }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LayerError);
    expect(String((err as Error).message)).toMatch(/non-distributable layer sha256:a+ .*example\.invalid.*blob unknown/);
  });

  it("fails with a LayerError on a corrupt layer and on a digest mismatch of the source", async () => {
    const built = await buildLayer(ENTRIES.slice(0, 3), { compression: "gzip" });
    const broken = Buffer.from(built.blob);
    broken.fill(0x55, 40, 80);
    await expect(processLayer(asLayer(broken, MediaTypes.ociLayerGzip), { store })).rejects.toThrow(LayerError);
    const image = memoryImage([{ ...built, blob: broken }]);
    await expect(processLayer(image.layers[0]!, { store })).rejects.toThrow(/digest mismatch|LayerError|gzip/);
  });

  it("warns about tar types a layer cannot use and goes on", async () => {
    const built = await buildLayer([{ type: "file", path: "a", content: "a" }], { compression: "none" });
    // Turn the typeflag into 'V' (a volume label) and fix the checksum.
    const tar = Buffer.from(built.blob);
    tar[156] = "V".charCodeAt(0);
    tar.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[i]!;
    tar.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
    const logger = memoryLogger();
    const result = await processLayer(asLayer(tar, MediaTypes.ociLayer), { store, logger });
    expect(result.entries).toEqual([]);
    expect(logger.events.map((e) => e.event)).toEqual(["layer.skip"]);
  });
});

describe("layer cache", () => {
  it("replays a layer and misses when the store lacks an object", async () => {
    const cacheDir = dir.join("cache");
    const built = await buildLayer(ENTRIES, { compression: "gzip" });
    const layer = asLayer(built.blob, MediaTypes.ociLayerGzip);
    const result = await processLayer(layer, { store });
    expect(await readLayerCache(cacheDir, built.digest, store)).toBeUndefined();
    await writeLayerCache(cacheDir, store.hashAlgorithm, result);
    const cached = await readLayerCache(cacheDir, built.digest, store);
    expect(cached).toEqual(result);
    expect(layerCachePath(cacheDir, built.digest, "sha1")).toMatch(/layers\/sha1\/sha256-[0-9a-f]{64}\.ndjson$/);

    // Another store (another algorithm) does not see it; a store missing one object misses.
    const other = await LocalContentStore.create(dir.join("store-rmd"), { hashAlgorithm: "rmd160" });
    expect(await readLayerCache(cacheDir, built.digest, other)).toBeUndefined();
    const passwd = result.entries[1]!;
    if (passwd.kind !== "file") throw new Error("not a file");
    await unlink(store.objectPath(passwd.content.hash!, ""));
    expect(await readLayerCache(cacheDir, built.digest, store)).toBeUndefined();
    await rm(cacheDir, { recursive: true });
  });

  it("keeps binary xattrs and nanosecond mtimes through the cache", async () => {
    const cacheDir = dir.join("cache2");
    const built = await buildLayer([
      { type: "file", path: "x", content: "x", mtime: 1700000000.5, pax: { "LIBARCHIVE.xattr.security.capability": Buffer.from([1, 0, 0xff]).toString("base64") } },
    ]);
    const result = await processLayer(asLayer(built.blob, MediaTypes.ociLayerGzip), { store });
    await writeLayerCache(cacheDir, store.hashAlgorithm, result);
    const cached = await readLayerCache(cacheDir, built.digest, store);
    const e = cached!.entries[0]!;
    if (e.kind !== "file") throw new Error("not a file");
    expect(e.meta).toMatchObject({ mtime: 1700000000, mtimeNs: 500_000_000, xattrs: { "security.capability": Buffer.from([1, 0, 0xff]) } });
  });
});

describe("processLayer with a failing store", () => {
  it("reports the store's error, not the half-read body it left behind", async () => {
    const built = await buildLayer(ENTRIES.slice(0, 3), { compression: "gzip" });
    const failing = Object.create(store) as LocalContentStore;
    failing.putFile = async (body) => {
      (body as Readable).destroy(new Error("disk full"));
      throw new LayerError("store object: disk full");
    };
    await expect(processLayer(asLayer(built.blob, MediaTypes.ociLayerGzip), { store: failing })).rejects.toThrow("store object: disk full");
  });
});

describe("processLayer with a slow store", () => {
  it("keeps at most maxPendingFiles puts unsettled and fills in every file", async () => {
    const files: TestEntry[] = Array.from({ length: 40 }, (_, i) => ({ type: "file", path: `f${i}`, content: `file ${i}\n` }));
    const built = await buildLayer(files, { compression: "gzip" });
    let open = 0;
    let most = 0;
    const slow = Object.create(store) as LocalContentStore;
    slow.putFile = async (body) => {
      open++;
      most = Math.max(most, open);
      let size = 0;
      for await (const c of body as AsyncIterable<Uint8Array>) size += c.length;
      // Settle later, in a scrambled order, so that the layer has to wait for free slots.
      await new Promise((r) => setTimeout(r, 1 + (size % 7)));
      open--;
      return { size, hash: createHash("sha1").update(String(size)).digest("hex") };
    };
    const r = await processLayer(asLayer(built.blob, MediaTypes.ociLayerGzip), { store: slow, maxPendingFiles: 3 });
    expect(most).toBe(3);
    expect(r.files).toBe(40);
    const sizes = r.entries.map((e) => (e.kind === "file" ? e.content?.size : -1));
    expect(sizes).toEqual(files.map((_, i) => `file ${i}\n`.length));
  });
});
