import { randomBytes } from "node:crypto";
import { readFile, readdir, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { hasPlainObjects } from "../../src/sandbox/materialise-plain-store.js";
import { StagingContentStore, hasStagedObjects } from "../../src/sandbox/staging-store.js";
import { cleanupTestdirs, testdir } from "../support/testdir.js";

afterAll(cleanupTestdirs);

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe("StagingContentStore", () => {
  it.each([
    ["empty", Buffer.alloc(0), 1],
    ["small, in one chunk", Buffer.from("hello\n"), 1],
    ["small, in many chunks", randomBytes(200_000), 7],
    ["large, streamed past the in-memory limit", randomBytes(3 * 1024 * 1024 + 5), 13],
  ])("stages a %s file as it is, under a name of its own, private to the runner", async (_name, bytes, pieces) => {
    const dir = await testdir();
    const store = await StagingContentStore.create(dir.join("staging"));
    const step = Math.ceil(bytes.length / pieces) || 1;
    const chunks = Array.from({ length: pieces }, (_, i) => bytes.subarray(i * step, (i + 1) * step));
    const content = await store.putFile(Readable.from(chunks));
    expect(content.size).toBe(bytes.length);
    expect(content.hash).toMatch(/^s\d+$/);
    const path = store.objectPath(content.hash!, "");
    expect((await readFile(path)).equals(bytes)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await collect(store.readFile(content))).equals(bytes)).toBe(true);
    expect(await store.has(content.hash!, "")).toBe(true);
    expect(await store.has("s999", "")).toBe(false);
  });

  it("writes the same bytes twice as two files (no hashing), and says its objects may be moved", async () => {
    const dir = await testdir();
    const store = await StagingContentStore.create(dir.join("staging"));
    const a = await store.putFile(Readable.from([Buffer.from("same")]));
    const b = await store.putFile(Readable.from([Buffer.from("same")]));
    const c = await store.putBuffer(Buffer.from("apptainer file"), "");
    expect(new Set([a.hash, b.hash, c]).size).toBe(3);
    expect((await readdir(dir.join("staging"))).sort()).toEqual([a.hash, b.hash, c].sort());
    expect(hasStagedObjects(store)).toBe(true);
    expect(hasPlainObjects(store)).toBe(false);
  });

  it("refuses a staging directory that exists already", async () => {
    const dir = await testdir({ "staging/x": "someone's file" });
    await expect(StagingContentStore.create(dir.join("staging"))).rejects.toThrow(/EEXIST/);
    expect(await readFile(dir.join("staging/x"), "utf8")).toBe("someone's file");
  });

  it("removes the file of a body that fails, and everything on dispose", async () => {
    const dir = await testdir();
    const store = await StagingContentStore.create(dir.join("staging"));
    const kept = await store.putFile(Readable.from([Buffer.from("kept")]));
    const failing = Readable.from(
      (async function* () {
        yield randomBytes(400_000);
        throw new Error("connection reset");
      })(),
    );
    await expect(store.putFile(failing)).rejects.toThrow("connection reset");
    expect(await readdir(dir.join("staging"))).toEqual([kept.hash]);
    await store.dispose();
    expect(await readdir(dir.path)).toEqual([]);
  });
});
