import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { deflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  packHeader,
  packStream,
  parsePackHeader,
  payloadDigest,
  payloadMessage,
  readPack,
  splitIntoPacks,
  type PackFileObject,
  type PackObject,
} from "../../src/gateway/object-pack.js";

let dir: string;
const objects: PackFileObject[] = [];
const contents = new Map<string, Buffer>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "gwpack-"));
  const algos: Array<[string, string, string]> = [
    ["sha1", "", ""],
    ["sha1", "", "C"],
    ["ripemd160", "-rmd160", "P"],
    ["shake128", "-shake128", ""],
  ];
  for (const [i, [algo, id, suffix]] of algos.entries()) {
    const bytes = deflateSync(Buffer.alloc(1000 + i * 70_000, `object ${i} `));
    const h = createHash(algo, algo === "shake128" ? { outputLength: 20 } : {}).update(bytes).digest("hex");
    const path = join(dir, `o${i}`);
    await writeFile(path, bytes);
    objects.push({ hash: `${h}${id}${suffix}`, size: bytes.length, path });
    contents.set(`${h}${id}${suffix}`, bytes);
  }
  // An empty object still occupies a line.
  const empty = Buffer.alloc(0);
  await writeFile(join(dir, "empty"), empty);
  const eh = createHash("sha1").update(empty).digest("hex");
  objects.push({ hash: eh, size: 0, path: join(dir, "empty") });
  contents.set(eh, empty);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function collect(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Feed `bytes` in small pieces to exercise boundaries inside header and objects. */
function chunked(bytes: Buffer, size = 777): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  })();
}

async function parse(bytes: Buffer, header: Buffer, digest = payloadDigest(header)) {
  const got = new Map<string, Buffer>();
  const closed: string[] = [];
  const list = await readPack(chunked(bytes), {
    headerSize: header.length,
    payloadDigest: digest,
    open: (o: PackObject) => {
      const parts: Buffer[] = [];
      return {
        write: (c) => void parts.push(Buffer.from(c)),
        close: async () => {
          got.set(o.hash, Buffer.concat(parts));
          closed.push(o.hash);
        },
      };
    },
  });
  return { list, got, closed };
}

describe("object pack", () => {
  it("writes the header in the V2 format", () => {
    const h = packHeader([
      { hash: "a".repeat(40), size: 3 },
      { hash: `${"b".repeat(40)}C`, size: 5 },
    ]);
    expect(h.toString()).toBe(`V2\nS8\nN2\n--\nC ${"a".repeat(40)} 3\nC ${"b".repeat(40)}C 5\n`);
    expect(packHeader([]).toString()).toBe("V2\nS0\nN0\n--\n");
    const msg = payloadMessage(h, "TOK");
    expect(msg).toBe(
      `{"session_token" : "TOK", "payload_digest" : "${createHash("sha1").update(h).digest("hex")}", "header_size" : "${h.length}", "api_version" : "2"}`,
    );
    expect(JSON.parse(msg).header_size).toBe(String(h.length));
  });

  it("round-trips every hash algorithm and suffix through a stream", async () => {
    const header = packHeader(objects);
    const bytes = await collect(packStream(header, objects));
    expect(bytes.length).toBe(header.length + objects.reduce((n, o) => n + o.size, 0));
    const { list, got, closed } = await parse(bytes, header);
    expect(list.map((o) => o.hash)).toEqual(objects.map((o) => o.hash));
    expect(closed).toEqual(objects.map((o) => o.hash));
    for (const [h, b] of contents) expect(got.get(h)?.equals(b)).toBe(true);
  });

  it("accepts an empty pack", async () => {
    const header = packHeader([]);
    const { list } = await parse(header, header);
    expect(list).toEqual([]);
  });

  it.each([
    ["wrong digest", (b: Buffer, h: Buffer) => ({ bytes: b, digest: "0".repeat(40), header: h }), /payload_digest/],
    ["trailing bytes", (b: Buffer, h: Buffer) => ({ bytes: Buffer.concat([b, Buffer.from("x")]), header: h }), /trailing/],
    ["truncated body", (b: Buffer, h: Buffer) => ({ bytes: b.subarray(0, b.length - 1), header: h }), /ends inside/],
    [
      "corrupted object",
      (b: Buffer, h: Buffer) => {
        const c = Buffer.from(b);
        c[h.length + 10] = (c[h.length + 10] as number) ^ 0xff;
        return { bytes: c, header: h };
      },
      /other_error.*hashes to/,
    ],
  ] as Array<[string, (b: Buffer, h: Buffer) => { bytes: Buffer; header: Buffer; digest?: string }, RegExp]>)("rejects a %s", async (_name, mutate, re) => {
    const header = packHeader(objects);
    const good = await collect(packStream(header, objects));
    const m = mutate(good, header);
    await expect(parse(m.bytes, m.header, m.digest)).rejects.toMatchObject({ reason: expect.stringMatching(re) });
  });

  it.each([
    ["S mismatch", "V2\nS9\nN1\n--\nC " + "a".repeat(40) + " 3\n", /S9/],
    ["N mismatch", "V2\nS3\nN2\n--\nC " + "a".repeat(40) + " 3\n", /N2/],
    ["bad hash", "V2\nS3\nN1\n--\nC ../../etc/passwd 3\n", /malformed index/],
    ["bad version", "V1\nS0\nN0\n--\n", /version/],
  ])("rejects a header with %s", (_n, text, re) => {
    expect(() => parsePackHeader(Buffer.from(text))).toThrow(re);
  });

  it("refuses a header_size over the limit", async () => {
    await expect(
      readPack(chunked(Buffer.alloc(10)), { headerSize: 10_000_001, payloadDigest: "0".repeat(40), open: () => ({ write() {}, close: async () => {} }) }),
    ).rejects.toThrow(/header_size/);
  });

  it("fails the stream when a file is not its declared size", async () => {
    const bad = [{ ...objects[0]!, size: objects[0]!.size + 1 }];
    await expect(collect(packStream(packHeader(bad), bad))).rejects.toMatchObject({ code: "E_SIZE_MISMATCH" });
  });

  it("splits by bytes and count, big objects alone", () => {
    const o = (size: number) => ({ hash: "x", size });
    expect(splitIntoPacks([o(5), o(5), o(20), o(1), o(1), o(1)], { maxBytes: 10, maxObjects: 2 }).map((p) => p.map((x) => x.size))).toEqual([
      [5, 5],
      [20],
      [1, 1],
      [1],
    ]);
  });
});
