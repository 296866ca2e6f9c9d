import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortedError, InternalError } from "../../../src/errors.js";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import { objectPath } from "../../../src/cvmfs/objects/hash.js";
import { deflateWith, resolveCompressor } from "../../../src/cvmfs/objects/compressor.js";
import { hashBytes } from "../../../src/cvmfs/objects/hash.js";
import type { HashAlgorithm } from "../../../src/content/content-store.js";
import { seededBytes, textBytes } from "./object-fixtures.js";

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "cis-pool-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * The stored bytes and name of a `zlib` object, as the pool's default compressor writes it (every
 * compressor stores empty content as zlib's own empty stream).
 */
function encodeObject(content: Uint8Array, algo: HashAlgorithm): { bytes: Buffer; hash: string } {
  const bytes = content.length === 0 ? Buffer.from("789c030000000001", "hex") : deflateWith(resolveCompressor(), content);
  return { bytes, hash: hashBytes(bytes, algo) };
}

describe("CompressPool", () => {
  it("stores many small objects at once, each named by its stored bytes", async () => {
    const pool = new CompressPool({ size: 2 });
    try {
      const contents = Array.from({ length: 500 }, (_, i) => (i % 2 ? textBytes(i * 37, i) : seededBytes(i * 11, i + 1)));
      const results = await Promise.all(
        contents.map(async (c) => {
          const w = pool.openObject({ rootDir: root, algorithm: "sha1" });
          // Two writes per object, interleaved with the other objects' writes in shared batches.
          await w.write(c.subarray(0, c.length >> 1));
          await w.write(c.subarray(c.length >> 1));
          return w.end("");
        }),
      );
      const distinct = new Set<string>();
      for (let i = 0; i < contents.length; i++) {
        const r = results[i];
        const expected = encodeObject(contents[i] as Buffer, "sha1");
        expect(r?.hash).toBe(expected.hash);
        expect(r?.storedSize).toBe(expected.bytes.length);
        expect(r?.size).toBe((contents[i] as Buffer).length);
        if (r?.written) distinct.add(r.hash);
        expect((await readFile(join(root, objectPath(expected.hash, "")))).equals(expected.bytes)).toBe(true);
      }
      expect(distinct.size).toBe(new Set(results.map((r) => r.hash)).size);
    } finally {
      await pool.close();
    }
  });

  it("sends small objects to a busy worker in few, fuller batches", async () => {
    const pool = new CompressPool({ size: 1 });
    try {
      const worker = (pool as unknown as { lanes: Array<{ worker: { postMessage(...a: unknown[]): void } }> }).lanes[0]?.worker;
      if (!worker) throw new Error("no worker");
      let messages = 0;
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (...a: unknown[]) => {
        messages++;
        post(...a);
      };
      const contents = Array.from({ length: 300 }, (_, i) => textBytes(16_000 + i * 29, i + 7));
      const stored: Array<Promise<{ hash: string }>> = [];
      for (const c of contents) {
        const w = pool.openObject({ rootDir: root, algorithm: "sha1" });
        await w.write(c);
        stored.push(w.end(""));
        // A turn of the event loop per object, as between the files of a tar stream.
        await new Promise((r) => setImmediate(r));
      }
      const results = await Promise.all(stored);
      results.forEach((r, i) => {
        expect(r.hash).toBe(encodeObject(contents[i] as Buffer, "sha1").hash);
      });
      expect(messages).toBeLessThan(contents.length / 4);
    } finally {
      await pool.close();
    }
  });

  it("applies backpressure and bounds the bytes in flight", async () => {
    const pool = new CompressPool({ size: 2, maxBytesPerWorker: 256 * 1024, batchBytes: 64 * 1024 });
    try {
      const content = textBytes(8 * 1024 * 1024, 3);
      const w = pool.openObject({ rootDir: root, algorithm: "rmd160" });
      let waited = 0;
      for (let o = 0; o < content.length; o += 100_000) {
        const p = w.write(content.subarray(o, o + 100_000));
        if (p) {
          waited++;
          await p;
        }
      }
      const r = await w.end("P");
      expect(waited).toBeGreaterThan(5);
      expect(r.hash).toBe(encodeObject(content, "rmd160").hash);
      expect((await readdir(join(root, "data", r.hash.slice(0, 2)))).includes(`${r.hash.slice(2)}P`)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it("rejects unfinished objects on close and refuses new ones", async () => {
    const pool = new CompressPool({ size: 1 });
    const w = pool.openObject({ rootDir: root, algorithm: "sha1" });
    await w.write(seededBytes(4 * 1024 * 1024, 5));
    const ended = w.end("");
    await pool.close();
    await expect(ended).rejects.toBeInstanceOf(AbortedError);
    expect(() => pool.openObject({ rootDir: root, algorithm: "sha1" })).toThrow(AbortedError);
  });

  it("fails the objects of a worker that dies and carries on with a new one", async () => {
    const pool = new CompressPool({ size: 1 });
    try {
      const w = pool.openObject({ rootDir: root, algorithm: "sha1" });
      await w.write(seededBytes(1024 * 1024, 6));
      const ended = w.end("");
      const lanes = (pool as unknown as { lanes: Array<{ worker: { terminate(): Promise<number> } }> }).lanes;
      await lanes[0]?.worker.terminate();
      await expect(ended).rejects.toBeInstanceOf(InternalError);
      const again = pool.openObject({ rootDir: root, algorithm: "sha1" });
      await again.write(Buffer.from("after"));
      expect((await again.end("")).hash).toBe(encodeObject(Buffer.from("after"), "sha1").hash);
    } finally {
      await pool.close();
    }
  });

  it("does not keep the process alive when idle", async () => {
    const script = `
      import { CompressPool } from ${JSON.stringify(join(process.cwd(), "src/cvmfs/objects/compress-pool.ts"))};
      const pool = CompressPool.shared();
      const w = pool.openObject({ rootDir: ${JSON.stringify(root)}, algorithm: "sha1" });
      w.write(new Uint8Array([1, 2, 3]));
      const r = await w.end("");
      console.log(r.hash);
    `;
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      timeout: 20_000,
      cwd: process.cwd(),
    });
    expect(stdout.trim()).toBe(encodeObject(new Uint8Array([1, 2, 3]), "sha1").hash);
  });
});
