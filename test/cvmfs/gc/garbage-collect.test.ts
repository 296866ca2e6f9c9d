import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CatalogEditor } from "../../../src/cvmfs/catalog/editor.js";
import { garbageCollect } from "../../../src/cvmfs/gc/garbage-collect.js";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import { inflateBuffer } from "../../../src/cvmfs/objects/object-codec.js";
import { readHistoryTags } from "../../../src/cvmfs/repository/history.js";
import { parseManifest } from "../../../src/cvmfs/repository/manifest.js";
import { readReflog } from "../../../src/cvmfs/repository/reflog.js";
import { Stratum0 } from "../../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../../src/cvmfs/repository/verify.js";
import { memoryLogger } from "../../../src/logger.js";
import { createFixture, FQRN, IMAGE_DIR, publishSample, type RepoFixture, type SampleFiles } from "../repository/repo-fixture.js";
import { dataBytes, dataObjects, expectedObjects, openReader, readRevision } from "./gc-support.js";

let pool: CompressPool;
beforeAll(() => {
  pool = new CompressPool({ size: 1 });
});
afterAll(async () => {
  await pool.close();
});

const fixtures: RepoFixture[] = [];
afterEach(async () => {
  for (const fx of fixtures.splice(0)) await fx.close();
});

async function fixture(): Promise<RepoFixture> {
  const fx = await createFixture();
  fixtures.push(fx);
  return fx;
}

async function historyTagsOf(fx: RepoFixture, m = fx.s0.manifest()): Promise<string[]> {
  const file = join(fx.root, `history-${Date.now()}.sqlite`);
  await writeFile(file, inflateBuffer(await readFile(fx.s0.store.objectPath(m.historyHash!, "H"))));
  return readHistoryTags(file).map((t) => t.name);
}

/** Objects written in the filesystem clock tick in which gc starts count as written by it, and stay. */
const nextTick = () => new Promise((resolve) => setTimeout(resolve, 25));

function expectFiles(read: Map<string, Buffer>, files: SampleFiles): void {
  for (const [path, bytes] of files) expect(read.get(path), path).toEqual(bytes);
}

describe("garbageCollect", () => {
  it("keeps every object of the kept revisions and removes exactly the rest", async () => {
    const fx = await fixture();
    await publishSample(fx.s0, 1, pool);
    const r2 = await publishSample(fx.s0, 2, pool);
    const r3 = await publishSample(fx.s0, 3, pool);
    const before = await dataObjects(fx.dir);
    await nextTick();

    const logger = memoryLogger();
    const result = await garbageCollect(fx.s0, { retention: { keepRevisions: 2, keepDays: 0 }, logger });

    const manifest = parseManifest(await readFile(join(fx.dir, ".cvmfspublished"))).manifest;
    const reader = await openReader(fx.dir, FQRN);
    try {
      const expected = await expectedObjects(reader, [r3.manifest.catalogHash, r2.manifest.catalogHash], manifest);
      const after = await dataObjects(fx.dir);
      expect([...after.keys()].sort()).toEqual([...expected].sort());
      // What went is exactly what was there and is not expected; the revision 1 image is among it.
      const gone = [...before.keys()].filter((k) => !after.has(k)).sort();
      expect(gone).toEqual([...before.keys()].filter((k) => !expected.has(k)).sort());
      expect(gone).toContain(`${r3.manifest.historyHash}H`); // replaced by the pruned history
      expect(result).toMatchObject({
        revision: 3,
        keptRevisions: [3, 2],
        droppedRevisions: [1, 0],
        objectsKept: after.size,
        objectsDeleted: gone.length,
        bytesDeleted: gone.reduce((sum, k) => sum + before.get(k)!, 0),
        recentObjects: 0,
        resigned: true,
        dryRun: false,
      });
      expectFiles(await readRevision(reader, r3.manifest.catalogHash), r3.files);
      expectFiles(await readRevision(reader, r2.manifest.catalogHash), r2.files);
    } finally {
      await reader.close();
    }
    expect(logger.events.map((e) => e.event)).toEqual(expect.arrayContaining(["gc.plan", "gc.publish"]));
    const { problems } = await verifyRepository({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
    expect(problems).toEqual([]);
  });

  it("publishes a re-signed manifest with G=yes, a pruned history and a reflog of what exists", async () => {
    const fx = await fixture();
    await publishSample(fx.s0, 1, pool);
    const r2 = await publishSample(fx.s0, 2, pool);
    expect(fx.s0.manifest().garbageCollectable).toBe(false);
    await garbageCollect(fx.s0, { retention: { keepRevisions: 1, keepDays: 0 } });

    const text = await readFile(join(fx.dir, ".cvmfspublished"), "latin1");
    expect(text).toMatch(/^Gyes$/m);
    const m = parseManifest(Buffer.from(text, "latin1")).manifest;
    expect(m).toMatchObject({ catalogHash: r2.manifest.catalogHash, revision: 2, publishTimestamp: r2.manifest.publishTimestamp, garbageCollectable: true });
    expect(m.historyHash).not.toBe(r2.manifest.historyHash);
    expect(await historyTagsOf(fx, m)).toEqual(["sample-2"]);
    const refs = readReflog(join(fx.dir, ".cvmfsreflog"));
    expect(refs.filter((r) => r.type === "catalog").map((r) => r.hash)).toEqual([r2.manifest.catalogHash]);
    expect(refs.filter((r) => r.type === "history").map((r) => r.hash)).toEqual([m.historyHash]);
    const present = await dataObjects(fx.dir);
    const suffix = { catalog: "C", certificate: "X", history: "H", metainfo: "M" } as const;
    for (const r of refs) expect(present.has(r.hash + suffix[r.type]), `${r.type} ${r.hash}`).toBe(true);
    // The signature chain holds (verify checks the manifest letter and whitelist against the master key).
    expect((await verifyRepository({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey })).problems).toEqual([]);

    // A second run finds nothing to do and publishes nothing; a later publish keeps G=yes.
    const again = await garbageCollect(fx.s0, { retention: { keepRevisions: 1, keepDays: 0 } });
    expect(again).toMatchObject({ objectsDeleted: 0, resigned: false, keptRevisions: [2], droppedRevisions: [] });
    const r3 = await publishSample(fx.s0, 3, pool);
    expect(r3.manifest.garbageCollectable).toBe(true);
    expect(await historyTagsOf(fx)).toEqual(["sample-3", "sample-2"]);
  });

  it("gives the bytes of a removed image back", async () => {
    const fx = await fixture();
    const r1 = await publishSample(fx.s0, 1, pool);
    const imageKeys = await (async () => {
      const reader = await openReader(fx.dir, FQRN);
      try {
        const all = await expectedObjects(reader, [r1.manifest.catalogHash], r1.manifest);
        const rest = new Set<string>();
        const editor = await CatalogEditor.open(r1.manifest.catalogHash, reader.catalogLoader);
        try {
          for await (const w of editor.walk("")) {
            if (w.path.startsWith(IMAGE_DIR)) continue;
            if (w.entry.kind === "file" && w.entry.hash) rest.add(w.entry.hash);
          }
        } finally {
          editor.close();
        }
        return [...all].filter((k) => !k.endsWith("C") && !k.endsWith("X") && !k.endsWith("H") && !rest.has(k));
      } finally {
        await reader.close();
      }
    })();
    expect(imageKeys.filter((k) => k.endsWith("P")).length).toBeGreaterThan(1); // the chunked tool

    const editor = await CatalogEditor.open(r1.manifest.catalogHash, fx.s0.catalogLoader);
    try {
      expect(await editor.remove("/library/app:latest")).toBe(true);
      expect(await editor.remove(IMAGE_DIR)).toBe(true);
      const { rootHash, rootSize } = await editor.finish(fx.s0.store, { revision: 2 });
      await fx.s0.publish({ rootHash, rootSize, tagName: "remove-image" });
    } finally {
      editor.close();
    }
    const before = await dataObjects(fx.dir);
    for (const k of imageKeys) expect(before.has(k), k).toBe(true);
    const bytesBefore = await dataBytes(fx.dir);

    const result = await garbageCollect(fx.s0, { retention: { keepRevisions: 1, keepDays: 0 } });
    const after = await dataObjects(fx.dir);
    for (const k of imageKeys) expect(after.has(k), k).toBe(false);
    const imageBytes = imageKeys.reduce((sum, k) => sum + before.get(k)!, 0);
    expect(imageBytes).toBeGreaterThan(20_000); // 20 kB of random bytes do not compress
    // data/ shrank by what was deleted, less the one object gc adds: the pruned history.
    const history = `${fx.s0.manifest().historyHash}H`;
    expect(before.has(history)).toBe(false);
    expect(bytesBefore - (await dataBytes(fx.dir))).toBe(result.bytesDeleted - after.get(history)!);
    expect(result.bytesDeleted).toBeGreaterThanOrEqual(imageBytes);
    const reader = await openReader(fx.dir, FQRN);
    try {
      expect(await reader.lookup(IMAGE_DIR)).toBeNull();
      const files = await readRevision(reader, reader.manifest.catalogHash);
      expect([...files.keys()].sort()).toEqual(["/empty", "/hello.txt"]);
      for (const [path, bytes] of files) expect(bytes).toEqual(r1.files.get(path));
    } finally {
      await reader.close();
    }
    expect((await verifyRepository({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey })).problems).toEqual([]);
  });

  it("keeps the revisions published within --keep-days, and the newest N", async () => {
    const root = await mkdtemp(join(tmpdir(), "gc-days-"));
    const day = (d: number) => new Date(Date.UTC(2030, 0, 1) + d * 86_400_000);
    let clock = day(0);
    const s0 = await Stratum0.openOrCreate(join(root, "s0"), { fqrn: FQRN, keysDir: join(root, "keys"), now: () => clock });
    try {
      const roots: Record<number, string> = {};
      for (const [revision, d] of [[1, 0], [2, 5], [3, 9], [4, 10]] as const) {
        clock = day(d);
        roots[revision] = (await publishSample(s0, revision, pool)).manifest.catalogHash;
      }
      const now = () => new Date(day(10).getTime() + 3_600_000);
      const tags = async () => {
        const file = join(root, `h-${Date.now()}.sqlite`);
        await writeFile(file, inflateBuffer(await readFile(s0.store.objectPath(s0.manifest().historyHash!, "H"))));
        return readHistoryTags(file).map((t) => t.revision);
      };
      const has = async (revision: number) => s0.store.has(roots[revision]!, "C");

      const six = await garbageCollect(s0, { retention: { keepRevisions: 1, keepDays: 6 }, now });
      expect(six).toMatchObject({ keptRevisions: [4, 3, 2], droppedRevisions: [1, 0] });
      expect(await tags()).toEqual([4, 3, 2]);
      expect([await has(1), await has(2), await has(3), await has(4)]).toEqual([false, true, true, true]);

      const three = await garbageCollect(s0, { retention: { keepRevisions: 1, keepDays: 3 }, now });
      expect(three).toMatchObject({ keptRevisions: [4, 3], droppedRevisions: [2] });
      expect(await tags()).toEqual([4, 3]);
      expect([await has(2), await has(3)]).toEqual([false, true]);

      // A count beyond what exists keeps everything there is.
      expect(await garbageCollect(s0, { retention: { keepRevisions: 10, keepDays: 0 }, now })).toMatchObject({
        keptRevisions: [4, 3],
        objectsDeleted: 0,
      });
      const reader = await openReader(s0.dir, FQRN);
      try {
        expect((await readRevision(reader, roots[3]!)).get("/hello.txt")?.toString()).toBe("hello 3\n");
      } finally {
        await reader.close();
      }
    } finally {
      await s0.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it("changes nothing in a dry run and reports what a real run deletes", async () => {
    const fx = await fixture();
    await publishSample(fx.s0, 1, pool);
    await publishSample(fx.s0, 2, pool);
    const manifest = await readFile(join(fx.dir, ".cvmfspublished"));
    const reflog = await readFile(join(fx.dir, ".cvmfsreflog"));
    const before = await dataObjects(fx.dir);
    await nextTick();
    const dry = await garbageCollect(fx.s0, { retention: { keepRevisions: 1, keepDays: 0 }, dryRun: true });
    expect(await readFile(join(fx.dir, ".cvmfspublished"))).toEqual(manifest);
    expect(await readFile(join(fx.dir, ".cvmfsreflog"))).toEqual(reflog);
    expect(await dataObjects(fx.dir)).toEqual(before);
    const real = await garbageCollect(fx.s0, { retention: { keepRevisions: 1, keepDays: 0 } });
    expect(dry).toMatchObject({ dryRun: true, resigned: false, objectsDeleted: real.objectsDeleted, bytesDeleted: real.bytesDeleted });
    expect(real.objectsDeleted).toBeGreaterThan(0);
  });

  it("leaves objects written while it runs, and refuses to collect when a kept catalog is gone", async () => {
    const fx = await fixture();
    await publishSample(fx.s0, 1, pool);
    const r2 = await publishSample(fx.s0, 2, pool);
    // An unreferenced object written after the run started (a sync converting an image meanwhile).
    let fresh = "";
    const result = await garbageCollect(fx.s0, {
      retention: { keepRevisions: 1, keepDays: 0 },
      faultHook: async (step) => {
        if (step === "mark") fresh = await fx.s0.store.putBuffer(Buffer.from(`written during gc ${Date.now()}`), "");
      },
    });
    expect(result.recentObjects).toBe(1);
    expect(await fx.s0.store.has(fresh, "")).toBe(true);

    const editor = await CatalogEditor.open(r2.manifest.catalogHash, fx.s0.catalogLoader);
    const image = await editor.nestedAt(IMAGE_DIR);
    editor.close();
    await rm(fx.s0.store.objectPath(image!.hash, "C"));
    const before = await dataObjects(fx.dir);
    const published = await readFile(join(fx.dir, ".cvmfspublished"));
    await expect(garbageCollect(fx.s0, { retention: { keepRevisions: 1, keepDays: 0 } })).rejects.toThrow(
      new RegExp(`catalog ${image!.hash}C \\(${IMAGE_DIR}\\)`),
    );
    expect(await dataObjects(fx.dir)).toEqual(before);
    expect(await readFile(join(fx.dir, ".cvmfspublished"))).toEqual(published);
  });
});
