import { pipeline } from "node:stream/promises";
import { Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { hashBytes } from "../../../src/cvmfs/objects/hash.js";
import {
  ObjectEncoder,
  compressBuffer,
  encodeObject,
  inflateBuffer,
  inflateStream,
} from "../../../src/cvmfs/objects/object-codec.js";
import { blocks, seededBytes, textBytes } from "./object-fixtures.js";

async function collect(stream: Readable | AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe("object codec", () => {
  it("encodes an empty file as CVMFS does", () => {
    const obj = encodeObject(new Uint8Array(0), "sha1");
    expect([...obj.bytes]).toEqual([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    expect(obj.hash).toBe("e8ec3d88b62ebf526e4e5a4ff6162a3aa48a6b78");
  });

  it.each([
    ["text", textBytes(300_000)],
    ["random", seededBytes(300_000, 7)],
    ["one byte", Buffer.from([42])],
  ])("round-trips %s and hashes the stored bytes", (_name, content) => {
    const obj = encodeObject(content, "rmd160");
    expect(obj.bytes.subarray(0, 2).toString("hex")).toBe("789c"); // zlib header, default level
    expect(inflateBuffer(obj.bytes).equals(content)).toBe(true);
    expect(obj.hash).toBe(hashBytes(obj.bytes, "rmd160"));
    expect(compressBuffer(content).equals(obj.bytes)).toBe(true);
  });

  it("streams to the same bytes and hash as the one-shot encoder", async () => {
    const content = Buffer.concat([textBytes(500_000), seededBytes(200_000, 3)]);
    const enc = new ObjectEncoder("shake128");
    const parts: Buffer[] = [];
    await pipeline(
      Readable.from(blocks(content, 65_536)),
      enc,
      new Writable({
        write(chunk: Buffer, _e, cb) {
          parts.push(chunk);
          cb();
        },
      }),
    );
    const stored = Buffer.concat(parts);
    const oneShot = encodeObject(content, "shake128");
    expect(stored.equals(oneShot.bytes)).toBe(true);
    expect(enc.result()).toEqual({ hash: oneShot.hash, storedSize: stored.length });
    expect((await collect(Readable.from([stored]).pipe(inflateStream()))).equals(content)).toBe(true);
  });

  it("keeps the bytes intact behind a slow reader", async () => {
    const content = seededBytes(3 * 1024 * 1024, 21);
    const enc = new ObjectEncoder("sha1");
    const parts: Buffer[] = [];
    await pipeline(
      Readable.from(blocks(content, 256 * 1024)),
      enc,
      new Writable({
        highWaterMark: 1024,
        write(chunk: Buffer, _e, cb) {
          parts.push(chunk);
          setImmediate(cb);
        },
      }),
    );
    expect(Buffer.concat(parts).equals(encodeObject(content, "sha1").bytes)).toBe(true);
    expect(enc.result().hash).toBe(encodeObject(content, "sha1").hash);
  });
});
