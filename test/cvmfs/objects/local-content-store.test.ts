import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DigestMismatchError } from "../../../src/errors.js";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import type { FileContent } from "../../../src/content/content-store.js";
import { hashBytes } from "../../../src/cvmfs/objects/hash.js";
import { LocalContentStore } from "../../../src/cvmfs/objects/local-content-store.js";
import { encodeObject, inflateBuffer } from "../../../src/cvmfs/objects/object-codec.js";
import type { Compressor } from "../../../src/cvmfs/objects/compressor.js";
import { availableCompressors, blocks, expectedObject, seededBytes, textBytes } from "./object-fixtures.js";

const MiB = 1024 * 1024;
let root: string;
let pool: CompressPool;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "cis-store-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function newStore(name: string, opts: ConstructorParameters<typeof LocalContentStore>[1] = {}): Promise<LocalContentStore> {
  return LocalContentStore.create(join(root, pool.compressor.name, name), { pool, ...opts });
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The stored object inflates to `content` (or is it, when stored uncompressed) and its bytes hash to its name. */
async function expectObject(store: LocalContentStore, hash: string, suffix: "" | "P" | "C", content: Uint8Array, compression?: "none"): Promise<void> {
  const stored = await readFile(store.objectPath(hash, suffix));
  expect(hashBytes(stored, store.hashAlgorithm)).toBe(hash);
  expect((compression === "none" ? stored : inflateBuffer(stored)).equals(Buffer.from(content))).toBe(true);
}

/** The FileContent a whole (unchunked) file must get. */
function expectedContent(content: Uint8Array, algo: "sha1" | "rmd160" | "shake128", compressor: Compressor): FileContent {
  const o = expectedObject(content, algo, compressor);
  return o.compression === "none" ? { size: content.length, hash: o.hash, compression: "none" } : { size: content.length, hash: o.hash };
}

describe.each(availableCompressors().map((c) => [c.name, c] as const))("LocalContentStore with %s", (_name, compressor) => {
  beforeAll(() => {
    pool = new CompressPool({ size: 2, compressor: compressor.name });
  });
  afterAll(async () => {
    await pool.close();
  });

  it("creates the stratum 0 data skeleton", async () => {
    const store = await newStore("skeleton");
    const dirs = await readdir(join(store.rootDir, "data"));
    expect(dirs).toHaveLength(257);
    expect(dirs).toContain("00");
    expect(dirs).toContain("ff");
    expect(dirs).toContain("txn");
  });

  it("stores the empty file as CVMFS does", async () => {
    const store = await newStore("empty");
    const content = await store.putFile(Readable.from([]));
    expect(content).toEqual({ size: 0, hash: "e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78" });
    const bytes = await readFile(join(store.rootDir, "data/e8/ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78"));
    expect(bytes.toString("hex")).toBe("789c030000000001");
  });

  it("round-trips small and medium files, whole, named by the hash of the stored bytes", async () => {
    const store = await newStore("roundtrip");
    for (const content of [Buffer.from("hello\n"), textBytes(3 * MiB), seededBytes(MiB + 17, 3)]) {
      const fc = await store.putFile(Readable.from(blocks(content, 65_536)));
      expect(fc.size).toBe(content.length);
      expect(fc.chunks).toBeUndefined();
      expect(fc).toEqual(expectedContent(content, "sha1", compressor));
      await expectObject(store, fc.hash as string, "", content, fc.compression);
      expect((await collect(store.readFile(fc))).equals(content)).toBe(true);
    }
    expect(await readdir(join(store.rootDir, "data/txn"))).toEqual([]);
  });

  it("accepts async iterables and strings from a stream with an encoding", async () => {
    const store = await newStore("iter");
    const fc = await store.putFile((async function* () {
      yield new Uint8Array([1, 2, 3]);
      yield new Uint8Array([4]);
    })());
    expect(fc).toEqual(expectedContent(new Uint8Array([1, 2, 3, 4]), "sha1", compressor));
    const s = Readable.from(["abc", "def"]);
    expect(await store.putFile(s)).toEqual(expectedContent(Buffer.from("abcdef"), "sha1", compressor));
  });

  describe("a 40 MiB file with default chunking", () => {
    const data = seededBytes(40 * MiB, 11);
    let store: LocalContentStore;
    let fc: FileContent;

    beforeAll(async () => {
      store = await newStore("chunked");
      fc = await store.putFile(Readable.from(blocks(data, 65_536)));
    });

    it("is stored as contiguous P chunks within min..max", async () => {
      expect(fc.hash).toBeNull();
      const chunks = fc.chunks ?? [];
      expect(chunks.length).toBeGreaterThanOrEqual(2);
      let offset = 0;
      chunks.forEach((c, i) => {
        expect(c.offset).toBe(offset);
        if (i < chunks.length - 1) {
          expect(c.size).toBeGreaterThanOrEqual(4 * MiB);
          expect(c.size).toBeLessThanOrEqual(16 * MiB);
        }
        offset += c.size;
      });
      expect(offset).toBe(data.length);
      expect(fc.size).toBe(data.length);
      // Random bytes: the first piece is judged incompressible, and every chunk follows it.
      expect(fc.compression).toBe("none");
      for (const c of chunks) {
        await expectObject(store, c.hash, "P", data.subarray(c.offset, c.offset + c.size), "none");
        expect(await store.has(c.hash, "P")).toBe(true);
        expect(await store.has(c.hash, "")).toBe(false);
      }
      expect(store.objectsWritten).toBe(chunks.length);
      expect(await readdir(join(store.rootDir, "data/txn"))).toEqual([]);
    });

    it("reads back as the original bytes", async () => {
      expect((await collect(store.readFile(fc))).equals(data)).toBe(true);
    });

    it("keeps later chunks when bytes are inserted near the start", async () => {
      const edited = Buffer.concat([data.subarray(0, 1000), Buffer.from("a small edit"), data.subarray(1000)]);
      const before = { written: store.objectsWritten, dedup: store.objectsDeduplicated };
      const fc2 = await store.putFile(Readable.from(blocks(edited, 65_536)));
      const old = new Set((fc.chunks ?? []).map((c) => c.hash));
      const chunks2 = fc2.chunks ?? [];
      const shared = chunks2.filter((c) => old.has(c.hash));
      expect(shared.length).toBe(chunks2.length - 1);
      expect(chunks2.slice(1).every((c) => old.has(c.hash))).toBe(true);
      expect(store.objectsWritten - before.written).toBe(1);
      expect(store.objectsDeduplicated - before.dedup).toBe(shared.length);
    });
  });

  it("stores a file with one piece whole, and chunked files only when chunking is on", async () => {
    const small = { min: 64 * 1024, avg: 128 * 1024, max: 256 * 1024 };
    const content = seededBytes(100 * 1024, 4); // > min but no mark before the end
    const store = await newStore("pieces", { chunking: small });
    const one = await store.putFile(Readable.from([content.subarray(0, 70 * 1024)]));
    expect(one.hash).not.toBeNull();
    expect(await store.has(one.hash as string, "")).toBe(true);
    const whole = await newStore("whole", { chunking: false });
    const big = await whole.putFile(Readable.from(blocks(seededBytes(3 * MiB, 8), 100_000)));
    expect(big.chunks).toBeUndefined();
    await expectObject(whole, big.hash as string, "", seededBytes(3 * MiB, 8), big.compression);
  });

  it.each(["rmd160", "shake128"] as const)("names objects with %s", async (algo) => {
    const store = await newStore(`algo-${algo}`, { hashAlgorithm: algo });
    const content = textBytes(10_000);
    const fc = await store.putFile(Readable.from([content]));
    expect(fc.hash).toMatch(new RegExp(`^[0-9a-f]{40}-${algo}$`));
    expect(fc).toEqual(expectedContent(content, algo, compressor));
    expect(store.objectPath(fc.hash as string, "")).toBe(
      join(store.rootDir, "data", (fc.hash as string).slice(0, 2), (fc.hash as string).slice(2)),
    );
    await expectObject(store, fc.hash as string, "", content);
    // Output past 1 MiB goes to a temp file as it comes, hashed on the way: same name.
    const big = seededBytes(2 * MiB, 30);
    const fb = await store.putFile(Readable.from(blocks(big, 65_536)));
    expect(fb).toEqual(expectedContent(big, algo, compressor));
    // Compressible output past 1 MiB too.
    const text = textBytes(6 * MiB, 31);
    const ft = await store.putFile(Readable.from(blocks(text, 65_536)));
    expect(ft).toEqual(expectedContent(text, algo, compressor));
    const cat = await store.putBuffer(Buffer.from("catalog bytes"), "C");
    expect(await store.has(cat, "C")).toBe(true);
    expect(await store.has(cat, "")).toBe(false);
  });

  it("does not rewrite an object that is present, and counts it", async () => {
    const store = await newStore("dedup");
    const content = textBytes(200_000, 5);
    const h1 = await store.putBuffer(content, "C");
    const before = await stat(store.objectPath(h1, "C"));
    const h2 = await store.putBuffer(content, "C");
    const fc = await store.putFile(Readable.from([content]));
    expect(h2).toBe(h1);
    expect(fc.hash).toBe(h1);
    expect(store.objectsWritten).toBe(2); // …C and the suffix-less file object
    expect(store.objectsDeduplicated).toBe(1);
    expect(store.bytesWritten).toBe(2 * before.size);
    expect((await stat(store.objectPath(h1, "C"))).mtimeMs).toBe(before.mtimeMs);
  });

  it("leaves nothing behind when the body fails, spilled or not", async () => {
    const store = await newStore("abort");
    for (const size of [1000, 5 * MiB]) {
      const body = Readable.from((async function* () {
        yield* blocks(seededBytes(size, 12), 65_536);
        throw new Error("connection reset");
      })());
      await expect(store.putFile(body)).rejects.toThrow("connection reset");
    }
    expect(await readdir(join(store.rootDir, "data/txn"))).toEqual([]);
    expect(store.objectsWritten).toBe(0);
  });

  it("creates missing data directories on demand when opened without create()", async () => {
    const store = new LocalContentStore(join(root, pool.compressor.name, "bare"), { pool });
    const content = textBytes(2 * MiB, 9);
    const [a, b] = await Promise.all([store.putBuffer(content, "X"), store.putFile(Readable.from([content]))]);
    expect(b.hash).toBe(a);
    await expectObject(store, a, "", content);
    expect((await readFile(store.objectPath(a, "X"))).equals(await readFile(store.objectPath(a, "")))).toBe(true);
    expect(await readdir(join(store.rootDir, "data"))).toEqual([a.slice(0, 2), "txn"].sort());
  });

  it("detects a corrupted object on read", async () => {
    const store = await newStore("corrupt");
    const hash = await store.putBuffer(textBytes(5000), "");
    await writeFile(store.objectPath(hash, ""), encodeObject(Buffer.from("other"), "sha1").bytes);
    await expect(collect(store.readObject(hash, ""))).rejects.toBeInstanceOf(DigestMismatchError);
    expect(await store.has("0".repeat(40), "")).toBe(false);
  });
});
