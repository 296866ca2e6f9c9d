import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync, mkdtempSync, symlinkSync, linkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { LayerError } from "../../src/errors.js";
import { readTar } from "../../src/layers/tar-reader.js";
import { applyExtensions, decodeHeader, decodeNumber, decodePaxRecords, parsePaxTime, type TarHeader } from "../../src/layers/tar-header.js";
import { tarStream } from "../support/layer-builder.js";

interface Read {
  h: TarHeader;
  body?: Buffer;
}

async function readAll(source: AsyncIterable<Buffer>, takeBodies = true): Promise<Read[]> {
  const out: Read[] = [];
  for await (const entry of readTar(source)) {
    if (entry.header.typeflag === "0" && takeBodies) {
      const parts: Buffer[] = [];
      for await (const c of entry.body()) parts.push(c as Buffer);
      out.push({ h: entry.header, body: Buffer.concat(parts) });
    } else out.push({ h: entry.header });
  }
  return out;
}

/** A raw ustar header block, for archives no packer writes (binary pax values, GNU K, base-256). */
function rawHeader(h: { name: string; type: string; size?: number; linkname?: string; mode?: number; base256Uid?: number }): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, "utf8");
  b.write((h.mode ?? 0o644).toString(8).padStart(7, "0") + "\0", 100, "latin1");
  if (h.base256Uid !== undefined) {
    b[108] = 0x80;
    b.writeUIntBE(h.base256Uid, 116 - 6, 6);
  } else b.write("0000000\0", 108, "latin1");
  b.write("0000000\0", 116, "latin1");
  b.write((h.size ?? 0).toString(8).padStart(11, "0") + "\0", 124, "latin1");
  b.write("14544000000\0", 136, "latin1");
  b.write(h.type, 156, "latin1");
  if (h.linkname) b.write(h.linkname, 157, "utf8");
  b.write("ustar\x0000", 257, "latin1");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return b;
}
const pad = (d: Buffer): Buffer => Buffer.concat([d, Buffer.alloc((512 - (d.length % 512)) % 512)]);
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from("\n")]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}
const end = Buffer.alloc(1024);

describe("readTar", () => {
  it("reads ustar, pax and GNU long names, link names, nanosecond mtimes and xattrs", async () => {
    const longName = `d/${"n".repeat(150)}/file`;
    const longLink = `t/${"l".repeat(160)}`;
    const entries = await readAll(
      tarStream([
        { type: "dir", path: "d", mode: 0o1777, uid: 1000, gid: 100 },
        { type: "file", path: "d/small", content: "hello", mode: 0o4755 },
        { type: "file", path: longName, content: "long" },
        { type: "file", path: `g/${"g".repeat(120)}`, content: "gnu", gnuLongName: true },
        { type: "symlink", path: "s", target: longLink },
        { type: "hardlink", path: "h", target: "d/small" },
        { type: "file", path: "ns", content: "", mtime: 1700000000.25 },
        {
          type: "file",
          path: "x",
          content: "x",
          pax: { "SCHILY.xattr.user.plain": "v1", "LIBARCHIVE.xattr.user.b64%20name": Buffer.from([0, 1, 2, 255]).toString("base64") },
        },
        { type: "char", path: "null", devMajor: 1, devMinor: 3 },
        { type: "fifo", path: "fifo" },
      ]),
    );
    const byName = Object.fromEntries(entries.map((e) => [e.h.name, e]));
    expect(byName["d"]!.h).toMatchObject({ typeflag: "5", mode: 0o1777, uid: 1000, gid: 100 });
    expect(byName["d/small"]!.body!.toString()).toBe("hello");
    expect(byName["d/small"]!.h.mode).toBe(0o4755);
    expect(byName[longName]!.body!.toString()).toBe("long");
    expect(byName[`g/${"g".repeat(120)}`]!.body!.toString()).toBe("gnu");
    expect(byName["s"]!.h).toMatchObject({ typeflag: "2", linkname: longLink });
    expect(byName["h"]!.h).toMatchObject({ typeflag: "1", linkname: "d/small" });
    expect(byName["ns"]!.h).toMatchObject({ mtime: 1700000000, mtimeNs: 250_000_000 });
    expect(byName["x"]!.h.xattrs).toEqual({ "user.plain": Buffer.from("v1"), "user.b64 name": Buffer.from([0, 1, 2, 255]) });
    expect(byName["null"]!.h).toMatchObject({ typeflag: "3", devMajor: 1, devMinor: 3 });
    expect(byName["fifo"]!.h.typeflag).toBe("6");
  });

  it("keeps binary pax xattr values byte for byte, and reads GNU K records and base-256 numbers", async () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xc3, 0x28, 0xff, 0x80]);
    const pax = paxRecord("SCHILY.xattr.security.capability", cap);
    const longTarget = "k".repeat(200);
    const archive = Buffer.concat([
      rawHeader({ name: "PaxHeader", type: "x", size: pax.length }),
      pad(pax),
      rawHeader({ name: "bin/ping", type: "0", size: 3, mode: 0o755 }),
      pad(Buffer.from("abc")),
      rawHeader({ name: "././@LongLink", type: "K", size: longTarget.length + 1 }),
      pad(Buffer.from(longTarget + "\0")),
      rawHeader({ name: "lnk", type: "2", linkname: "short" }),
      rawHeader({ name: "big-uid", type: "0", base256Uid: 3_000_000_000 }),
      end,
    ]);
    const entries = await readAll(Readable.from([archive]));
    expect(entries.map((e) => e.h.name)).toEqual(["bin/ping", "lnk", "big-uid"]);
    expect(entries[0]!.h.xattrs!["security.capability"]).toEqual(cap);
    expect(entries[0]!.body!.toString()).toBe("abc");
    expect(entries[1]!.h.linkname).toBe(longTarget);
    expect(entries[2]!.h.uid).toBe(3_000_000_000);
  });

  it("skips bodies that are not taken, even split across tiny chunks", async () => {
    const archive = Buffer.concat([
      rawHeader({ name: "a", type: "0", size: 700 }),
      pad(Buffer.alloc(700, 1)),
      rawHeader({ name: "b", type: "0", size: 2 }),
      pad(Buffer.from("ok")),
      end,
    ]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < archive.length; i += 7) chunks.push(archive.subarray(i, i + 7));
    const seen: string[] = [];
    for await (const e of readTar(Readable.from(chunks))) {
      if (e.header.name === "b") {
        let s = "";
        for await (const c of e.body()) s += String(c);
        seen.push(s);
      } else seen.push(e.header.name);
    }
    expect(seen).toEqual(["a", "ok"]);
  });

  it("fails on truncated bodies and corrupt headers", async () => {
    const truncated = Buffer.concat([rawHeader({ name: "a", type: "0", size: 4096 }), Buffer.alloc(100)]);
    await expect(readAll(Readable.from([truncated]))).rejects.toThrow(LayerError);
    await expect(readAll(Readable.from([truncated]), false)).rejects.toThrow(/truncated/);
    const corrupt = rawHeader({ name: "a", type: "0" });
    corrupt[0] = 0x41;
    await expect(readAll(Readable.from([corrupt]))).rejects.toThrow(/checksum/);
  });

  it("reads what GNU tar writes in gnu and posix formats", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tar-gnu-"));
    try {
      const src = join(dir, "src");
      const deep = join(src, "a".repeat(80), "b".repeat(80));
      mkdirSync(deep, { recursive: true });
      writeFileSync(join(deep, "c".repeat(90)), "deep");
      symlinkSync("x".repeat(150), join(src, "longlink"));
      linkSync(join(deep, "c".repeat(90)), join(src, "hard"));
      utimesSync(join(src, "hard"), 1600000000.25, 1600000000.25);
      for (const format of ["gnu", "posix"]) {
        const file = join(dir, `${format}.tar`);
        execFileSync("tar", ["--format", format, "-cf", file, "-C", src, "."]);
        const entries = await readAll(Readable.from([readFileSync(file)]));
        const names = entries.map((e) => e.h.name.replace(/^\.\//, "").replace(/\/$/, ""));
        expect(names).toContain(`${"a".repeat(80)}/${"b".repeat(80)}/${"c".repeat(90)}`);
        const link = entries.find((e) => e.h.name.endsWith("longlink"))!;
        expect(link.h.linkname).toBe("x".repeat(150));
        const bodies = entries.filter((e) => e.body?.toString() === "deep");
        expect(bodies).toHaveLength(1);
        expect(entries.some((e) => e.h.typeflag === "1")).toBe(true);
        if (format === "posix") {
          const withNs = entries.find((e) => e.h.mtimeNs === 250_000_000);
          expect(withNs).toBeDefined();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tar header pieces", () => {
  it("decodes pax sizes over 8 GiB, times and records", () => {
    const raw = decodeHeader(rawHeader({ name: "huge", type: "0", size: 0 }));
    const h = applyExtensions(raw, { pax: decodePaxRecords(paxRecord("size", Buffer.from("10737418240"))) });
    expect(h.size).toBe(10 * 1024 ** 3);
    expect(parsePaxTime("1700000000.5")).toEqual({ sec: 1700000000, ns: 500_000_000 });
    expect(parsePaxTime("-1.25")).toEqual({ sec: -2, ns: 750_000_000 });
    expect(parsePaxTime("12")).toEqual({ sec: 12, ns: 0 });
  });

  it("decodes octal and base-256 numbers", () => {
    const b = Buffer.alloc(12);
    b.write("00000000017\0", 0, "latin1");
    expect(decodeNumber(b, 0, 12)).toBe(15);
    const big = Buffer.alloc(12);
    big[0] = 0x80;
    big.writeUIntBE(9 * 1024 ** 3, 6, 6);
    expect(decodeNumber(big, 0, 12)).toBe(9 * 1024 ** 3);
  });

  it("refuses GNU sparse files", () => {
    const raw = decodeHeader(rawHeader({ name: "s", type: "0" }));
    expect(() => applyExtensions(raw, { pax: new Map([["GNU.sparse.major", Buffer.from("1")]]) })).toThrow(/sparse/);
  });
});
