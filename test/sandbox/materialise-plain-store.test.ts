import { createHash, randomBytes } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { PlainContentStore } from "../../src/sandbox/materialise-plain-store.js";
import { testdir, cleanupTestdirs } from "../support/testdir.js";

afterAll(cleanupTestdirs);

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe("PlainContentStore", () => {
  it.each([
    ["empty", Buffer.alloc(0), 1],
    ["small, in one chunk", Buffer.from("hello\n"), 1],
    ["small, in many chunks", randomBytes(200_000), 7],
    ["large, streamed past the in-memory limit", randomBytes(3 * 1024 * 1024 + 5), 13],
  ])("stores a %s file under the SHA-1 of its bytes", async (_name, bytes, pieces) => {
    const dir = await testdir();
    const store = await PlainContentStore.create(dir.path);
    const step = Math.ceil(bytes.length / pieces) || 1;
    const chunks = Array.from({ length: pieces }, (_, i) => bytes.subarray(i * step, (i + 1) * step));
    const content = await store.putFile(Readable.from(chunks));
    const sha1 = createHash("sha1").update(bytes).digest("hex");
    expect(content).toEqual({ size: bytes.length, hash: sha1 });
    expect((await readFile(store.objectPath(sha1, ""))).equals(bytes)).toBe(true);
    expect((await collect(store.readFile(content))).equals(bytes)).toBe(true);
    expect(await store.has(sha1, "")).toBe(true);
    expect(await readdir(dir.join("txn"))).toEqual([]);
  });

  it("writes one object for the same bytes put twice, and leaves no temp files", async () => {
    const dir = await testdir();
    const store = await PlainContentStore.create(dir.path);
    const big = randomBytes(600_000);
    const [a, b, c] = await Promise.all([
      store.putFile(Readable.from([big.subarray(0, 300_000), big.subarray(300_000)])),
      store.putFile(Readable.from([big])),
      store.putFile(Readable.from([Buffer.from("x")])),
    ]);
    expect(a).toEqual(b);
    const sub = a.hash!.slice(0, 2);
    expect((await readdir(dir.join(sub))).filter((f) => a.hash!.endsWith(f))).toHaveLength(1);
    expect(c.size).toBe(1);
    expect(await readdir(dir.join("txn"))).toEqual([]);
  });

  it("removes its temp file when the body fails", async () => {
    const dir = await testdir();
    const store = await PlainContentStore.create(dir.path);
    const failing = Readable.from(
      (async function* () {
        yield randomBytes(400_000);
        throw new Error("connection reset");
      })(),
    );
    await expect(store.putFile(failing)).rejects.toThrow("connection reset");
    expect(await readdir(dir.join("txn"))).toEqual([]);
  });
});
