import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { DigestMismatchError, SizeMismatchError } from "../../src/errors.js";
import { VerifiedReader, verifyBytes } from "../../src/registry/verified-reader.js";

const data = Buffer.from("hello, layer bytes");
const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;

async function run(chunks: Buffer[], expectedDigest: string, size?: number): Promise<Buffer> {
  const out: Buffer[] = [];
  const reader = new VerifiedReader(expectedDigest, size, "blob under test");
  await pipeline(Readable.from(chunks), reader, async function* (src) {
    for await (const c of src) out.push(c as Buffer);
    yield* [];
  });
  expect(reader.bytes).toBe(Buffer.concat(out).length);
  return Buffer.concat(out);
}

describe("VerifiedReader", () => {
  const run2 = run;
  it("passes bytes through unchanged when digest and size match", async () => {
    expect((await run2([data.subarray(0, 5), data.subarray(5)], digest, data.length)).equals(data)).toBe(true);
  });

  it("fails with DigestMismatchError naming both digests", async () => {
    const bad = Buffer.from(data);
    bad[3] = bad[3]! ^ 1;
    const err = await run2([bad], digest, data.length).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as DigestMismatchError).expected).toBe(digest);
    expect((err as DigestMismatchError).actual).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it.each([
    ["short", [data.subarray(0, 10)], 10],
    ["long", [data, Buffer.from("x")], data.length + 1],
  ])("fails a %s stream with SizeMismatchError", async (_n, chunks, actual) => {
    const err = await run2(chunks, digest, data.length).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SizeMismatchError);
    expect((err as SizeMismatchError).actual).toBe(actual);
  });

  it("hashes 20 MiB in odd-sized chunks to the right digest", async () => {
    const big = Buffer.alloc(20 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const bigDigest = `sha256:${createHash("sha256").update(big).digest("hex")}`;
    const chunks: Buffer[] = [];
    for (let i = 0; i < big.length; i += 300_001) chunks.push(big.subarray(i, i + 300_001));
    expect((await run2(chunks, bigDigest, big.length)).equals(big)).toBe(true);
    const flipped = Buffer.from(big);
    flipped[big.length - 1] = 1;
    await expect(run2([flipped], bigDigest, big.length)).rejects.toBeInstanceOf(DigestMismatchError);
  });

  it("verifies whole buffers, sha512 too", () => {
    verifyBytes(data, digest, data.length, "x");
    verifyBytes(data, `sha512:${createHash("sha512").update(data).digest("hex")}`, undefined, "x");
    expect(() => verifyBytes(data, digest, 3, "x")).toThrow(SizeMismatchError);
    expect(() => verifyBytes(Buffer.from("other"), digest, undefined, "x")).toThrow(DigestMismatchError);
    expect(() => verifyBytes(data, "md5:abcd", undefined, "x")).toThrow(/unsupported digest algorithm/);
  });
});
