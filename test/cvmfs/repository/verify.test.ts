import { readFile, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import { objectPath } from "../../../src/cvmfs/objects/hash.js";
import { createRepositoryServer, type RepositoryServer } from "../../../src/cvmfs/repository/serve.js";
import { verifyRepository } from "../../../src/cvmfs/repository/verify.js";
import { checkCatalogFile } from "../../../src/cvmfs/repository/_verify-catalog.js";
import { openCatalog } from "../../../src/cvmfs/catalog/reader.js";
import { createFixture, FQRN, IMAGE_DIR, publishSample, type RepoFixture } from "./repo-fixture.js";

describe("verifyRepository", () => {
  let fx: RepoFixture;
  let pool: CompressPool;
  let server: RepositoryServer;
  beforeAll(async () => {
    pool = new CompressPool({ size: 1 });
    fx = await createFixture();
    await publishSample(fx.s0, 1, pool);
    server = await createRepositoryServer({ dir: fx.dir, fqrn: FQRN });
  });
  afterAll(async () => {
    await server.close();
    await fx.close();
    await pool.close();
  });

  const opts = () => ({ fqrn: FQRN, pubkeyPath: fx.pubkey });

  /** Flip one byte of `rel` (in the middle of the file), run `fn`, restore. */
  const withFlipped = async (rel: string, fn: () => Promise<void>, at?: number) => {
    const file = join(fx.dir, rel);
    const good = await readFile(file);
    const bad = Buffer.from(good);
    const i = at ?? Math.floor(bad.length / 2);
    bad.writeUInt8(bad.readUInt8(i) ^ 0x20, i);
    await writeFile(file, bad);
    try {
      await fn();
    } finally {
      await writeFile(file, good);
    }
  };

  it("passes a good repository over HTTP and from the directory, counting what it checked", async () => {
    for (const source of [{ url: server.url }, { dir: fx.dir }]) {
      const { problems, stats } = await verifyRepository(source, opts());
      expect(problems).toEqual([]);
      // root + image catalog; objects: hello, empty, conf, the marker (empty: same object), chunks of tool
      expect(stats.catalogs).toBe(2);
      expect(stats.revision).toBe(1);
      expect(stats.objects).toBeGreaterThan(4);
      expect(stats.entries).toBe(14); // the mountpoint has a row in both catalogs
    }
  });

  const rootReader = async () => openCatalog(await fx.s0.catalogLoader(fx.s0.manifest().catalogHash));

  it("names a file object with a flipped byte", async () => {
    const cat = await rootReader();
    const hash = cat.lookup("/hello.txt")!.hash!;
    cat.close();
    await withFlipped(objectPath(hash, ""), async () => {
      const { problems } = await verifyRepository({ url: server.url }, opts());
      expect(problems).toEqual([expect.stringContaining(`object ${objectPath(hash, "")}: content hash is`)]);
    });
  });

  it("names a chunk with a flipped byte", async () => {
    const cat = await rootReader();
    const nested = cat.nested().find((n) => n.path === IMAGE_DIR)!;
    cat.close();
    const image = openCatalog(await fx.s0.catalogLoader(nested.hash));
    const chunk = image.chunks(`${IMAGE_DIR}/bin/tool`)[1]!;
    image.close();
    await withFlipped(objectPath(chunk.hash, "P"), async () => {
      const { problems } = await verifyRepository({ dir: fx.dir }, opts());
      expect(problems.join("\n")).toContain(`object ${objectPath(chunk.hash, "P")}`);
    });
  });

  it("names the nested catalog and the root catalog when a byte of either flips", async () => {
    const m = fx.s0.manifest();
    const cat = await rootReader();
    const nested = cat.nested()[0]!;
    cat.close();
    await withFlipped(objectPath(nested.hash, "C"), async () => {
      const { problems } = await verifyRepository({ url: server.url }, opts());
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^catalog ${nested.hash}C \\(${IMAGE_DIR}\\): .*digest mismatch`))]);
    });
    await withFlipped(objectPath(m.catalogHash, "C"), async () => {
      const { problems } = await verifyRepository({ url: server.url }, opts());
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^catalog ${m.catalogHash}C \\(/\\): .*digest mismatch`))]);
    });
  });

  it("catches a flipped byte in the manifest, the whitelist and the reflog", async () => {
    await withFlipped(".cvmfspublished", async () => {
      const { problems } = await verifyRepository({ dir: fx.dir }, opts());
      expect(problems.join("\n")).toMatch(/signature chain: manifest: body hash/);
    }, 50);
    await withFlipped(".cvmfswhitelist", async () => {
      const { problems } = await verifyRepository({ dir: fx.dir }, opts());
      expect(problems.join("\n")).toMatch(/signature chain: whitelist/);
    }, 5);
    await withFlipped(".cvmfsreflog", async () => {
      const { problems } = await verifyRepository({ dir: fx.dir }, opts());
      expect(problems).toEqual([expect.stringMatching(/^\.cvmfsreflog: hash .* differs from manifest Y/)]);
    });
  });

  it("reports a missing object and a master key that does not match", async () => {
    const cat = await rootReader();
    const rel = objectPath(cat.lookup("/hello.txt")!.hash!, "");
    cat.close();
    await rename(join(fx.dir, rel), join(fx.dir, `${rel}.away`));
    try {
      const { problems } = await verifyRepository({ dir: fx.dir }, opts());
      expect(problems).toEqual([`object ${rel}: missing`]);
    } finally {
      await rename(join(fx.dir, `${rel}.away`), join(fx.dir, rel));
    }
    const other = await createFixture();
    try {
      const { problems } = await verifyRepository({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: other.pubkey });
      expect(problems).toEqual([expect.stringMatching(/whitelist signature does not verify/)]);
    } finally {
      await other.close();
    }
  });
});

describe("checkCatalogFile", () => {
  let fx: RepoFixture;
  let pool: CompressPool;
  let rootFile: string;
  let imageFile: string;
  beforeAll(async () => {
    pool = new CompressPool({ size: 1 });
    fx = await createFixture();
    await publishSample(fx.s0, 1, pool);
    rootFile = await fx.s0.catalogLoader(fx.s0.manifest().catalogHash);
    const cat = openCatalog(rootFile);
    imageFile = await fx.s0.catalogLoader(cat.nested()[0]!.hash);
    cat.close();
  });
  afterAll(async () => {
    await fx.close();
    await pool.close();
  });

  /** Copy a catalog, change it with SQL, check it. */
  const tampered = async (src: string, mountpoint: string, sql: string) => {
    const copy = join(fx.root, `tampered-${Math.random().toString(36).slice(2)}.sqlite`);
    await writeFile(copy, await readFile(src));
    const db = new Database(copy);
    db.exec(sql);
    db.close();
    return checkCatalogFile(copy, mountpoint, "cat").problems;
  };

  it("finds nothing wrong with the published catalogs", () => {
    expect(checkCatalogFile(rootFile, "", "root").problems).toEqual([]);
    const image = checkCatalogFile(imageFile, IMAGE_DIR, "image");
    expect(image.problems).toEqual([]);
    expect(image.objects.some((o) => o.suffix === "P")).toBe(true);
  });

  it.each([
    ["a wrong counter", "", "UPDATE statistics SET value = value + 1 WHERE counter = 'self_regular'", /counter self_regular is \d+, rows say/],
    ["a missing counter", "", "DELETE FROM statistics WHERE counter = 'subtree_xattr'", /counter subtree_xattr is missing/],
    ["an orphan row", "", "UPDATE catalog SET parent_1 = 42 WHERE name = 'hello.txt'", /entry "hello.txt" is not linked/],
    ["a wrong schema", "", "UPDATE properties SET value = '2.4' WHERE key = 'schema'", /schema is 2.4/],
    ["a mountpoint without its row", "", "DELETE FROM nested_catalogs", /nested mountpoint \(flag 2\) without a nested_catalogs row/],
    ["a wrong root_prefix", IMAGE_DIR, "UPDATE properties SET value = '/x' WHERE key = 'root_prefix'", /root_prefix is "\/x"/],
    ["a chunk gap", IMAGE_DIR, "DELETE FROM chunks WHERE offset = (SELECT max(offset) FROM chunks)", /chunks cover \d+ bytes|counter self_chunks/],
    ["a lost nested-root flag", IMAGE_DIR, "UPDATE catalog SET flags = 1 WHERE flags & 32", /nested-root flag/],
  ])("reports %s", async (_name, mountpoint, sql, re) => {
    const problems = await tampered(mountpoint === "" ? rootFile : imageFile, mountpoint, sql);
    expect(problems.join("\n")).toMatch(re);
  });
});
