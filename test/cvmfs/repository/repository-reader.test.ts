import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import { objectPath } from "../../../src/cvmfs/objects/hash.js";
import { RepositoryReader } from "../../../src/cvmfs/repository/repository-reader.js";
import { createRepositoryServer, type RepositoryServer } from "../../../src/cvmfs/repository/serve.js";
import { createFixture, FQRN, IMAGE_DIR, publishSample, type RepoFixture, type SampleFiles } from "./repo-fixture.js";

const readAll = async (s: NodeJS.ReadableStream) => {
  const parts: Buffer[] = [];
  for await (const b of s) parts.push(b as Buffer);
  return Buffer.concat(parts);
};

describe("RepositoryReader", () => {
  let fx: RepoFixture;
  let pool: CompressPool;
  let server: RepositoryServer;
  let files: SampleFiles;
  beforeAll(async () => {
    pool = new CompressPool({ size: 1 });
    fx = await createFixture();
    await publishSample(fx.s0, 1, pool);
    files = (await publishSample(fx.s0, 2, pool)).files;
    server = await createRepositoryServer({ dir: fx.dir, fqrn: FQRN });
  });
  afterAll(async () => {
    await server.close();
    await fx.close();
    await pool.close();
  });

  it.each(["url", "dir"] as const)("reads every file back byte for byte (%s), chunked ones through nested catalogs", async (kind) => {
    const source = kind === "url" ? { url: server.url } : { dir: fx.dir };
    const reader = await RepositoryReader.open(source, { fqrn: FQRN, pubkeyPath: fx.pubkey });
    try {
      expect(reader.manifest.revision).toBe(2);
      expect(reader.manifest.catalogHash).toBe(fx.s0.manifest().catalogHash);
      for (const [path, bytes] of files) expect(await readAll(reader.readFile(path)), path).toEqual(bytes);
      const tool = await reader.lookup(`${IMAGE_DIR}/bin/tool`);
      expect(tool).toMatchObject({ kind: "file", isChunked: true, size: 20_000, path: `${IMAGE_DIR}/bin/tool` });
      expect(await reader.readlink("/library/app:latest")).toBe(`..${IMAGE_DIR}`);
      expect((await reader.listing("/")).map((e) => e.name)).toEqual([".images", "empty", "hello.txt", "library"]);
      expect((await reader.listing(IMAGE_DIR)).map((e) => e.name)).toEqual([".cvmfscatalog", "bin", "etc"]);
      const walked: string[] = [];
      for await (const e of reader.walk()) walked.push(e.path);
      expect(walked).toEqual([
        "",
        "/.images",
        "/.images/ab",
        IMAGE_DIR,
        `${IMAGE_DIR}/.cvmfscatalog`,
        `${IMAGE_DIR}/bin`,
        `${IMAGE_DIR}/bin/tool`,
        `${IMAGE_DIR}/etc`,
        `${IMAGE_DIR}/etc/conf`,
        "/empty",
        "/hello.txt",
        "/library",
        "/library/app:latest",
      ]);
      expect(await reader.lookup("/nope")).toBeNull();
      await expect(reader.readlink("/hello.txt")).rejects.toThrow(/not a symlink/);
    } finally {
      await reader.close();
    }
  });

  it("refuses a repository of another name, and a signature chain to another master key", async () => {
    await expect(RepositoryReader.open({ url: server.url }, { fqrn: "other.test" })).rejects.toThrow(/expected "other.test"/);
    const otherKeys = await createFixture();
    try {
      await expect(RepositoryReader.open({ url: server.url }, { fqrn: FQRN, pubkeyPath: otherKeys.pubkey })).rejects.toThrow(/master key/);
    } finally {
      await otherKeys.close();
    }
    await expect(RepositoryReader.open({ url: `${server.url}x` }, { fqrn: FQRN })).rejects.toThrow(/missing/);
  });

  it("fails a read whose object has a flipped byte, naming the object", async () => {
    const reader = await RepositoryReader.open({ url: server.url }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
    const entry = (await reader.lookup("/hello.txt"))!;
    const file = join(fx.dir, objectPath(entry.hash!, ""));
    const good = await readFile(file);
    const bad = Buffer.from(good);
    bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 0x01, bad.length - 1);
    await writeFile(file, bad);
    try {
      await expect(readAll(reader.readFile("/hello.txt"))).rejects.toThrow(objectPath(entry.hash!, ""));
      await expect(reader.fetchObject(entry.hash!, "")).rejects.toThrow(/digest mismatch/);
    } finally {
      await writeFile(file, good);
      await reader.close();
    }
  });
});
