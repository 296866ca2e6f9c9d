import { spawnSync } from "node:child_process";
import { access, copyFile, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import { inspectHistory, readHistoryProperties, readHistoryTags } from "../../../src/cvmfs/repository/history.js";
import { inflateBuffer } from "../../../src/cvmfs/objects/object-codec.js";
import { addReflogRefs, readReflog } from "../../../src/cvmfs/repository/reflog.js";
import { Stratum0, type PublishStep } from "../../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../../src/cvmfs/repository/verify.js";
import { openCatalog } from "../../../src/cvmfs/catalog/reader.js";
import { createFixture, FQRN, prepareRoot, publishSample, type RepoFixture } from "./repo-fixture.js";

describe("Stratum0", () => {
  let fx: RepoFixture;
  let pool: CompressPool;
  beforeAll(async () => {
    pool = new CompressPool({ size: 1 });
    fx = await createFixture();
  });
  afterAll(async () => {
    await fx.close();
    await pool.close();
  });

  const historyTags = async (s0: Stratum0) => {
    const file = join(fx.root, "h.sqlite");
    await writeFile(file, inflateBuffer(await readFile(s0.store.objectPath(s0.manifest().historyHash!, "H"))));
    return { tags: readHistoryTags(file), props: readHistoryProperties(file) };
  };

  it("creates a repository as cvmfs_server mkfs does", async () => {
    const names = await readdir(fx.dir);
    for (const n of [".cvmfspublished", ".cvmfswhitelist", ".cvmfsreflog", ".cvmfs_master_replica", "data"]) expect(names).toContain(n);
    expect((await readdir(join(fx.dir, "data"))).length).toBe(257);
    const m = fx.s0.manifest();
    expect(m).toMatchObject({ revision: 0, fqrn: FQRN, ttl: 240, garbageCollectable: false });
    const root = openCatalog(await fx.s0.catalogLoader(m.catalogHash));
    expect(root.properties().revision).toBe("0");
    expect(root.lookup("")?.kind).toBe("dir");
    root.close();
    // As after mkfs's initial commit: one tag, revision 0 on the default branch, so that
    // `cvmfs_swissknife check` finds no branch without a tag.
    const { tags } = await historyTags(fx.s0);
    expect(tags.map((t) => [t.revision, t.hash, t.branch, t.size])).toEqual([[0, m.catalogHash, "", m.catalogSize]]);
    expect(tags[0]!.name).toMatch(/^generic-/);
    const file = join(fx.root, "h.sqlite");
    expect(inspectHistory(file)).toEqual([]);
    const { problems } = await verifyRepository({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
    expect(problems).toEqual([]);
  });

  it("reopens an existing repository without touching it", async () => {
    const before = await readFile(join(fx.dir, ".cvmfspublished"));
    const again = await Stratum0.openOrCreate(fx.dir, { fqrn: FQRN, keysDir: fx.keysDir });
    expect(again.manifest()).toEqual(fx.s0.manifest());
    expect(await readFile(join(fx.dir, ".cvmfspublished"))).toEqual(before);
    await again.close();
    await expect(Stratum0.openOrCreate(fx.dir, { fqrn: "other.test", keysDir: fx.keysDir })).rejects.toThrow(/holds repository "images.test"/);
    await expect(Stratum0.openOrCreate(fx.dir, { fqrn: FQRN, keysDir: join(fx.root, "other-keys") })).rejects.toThrow(/did not sign/);
    await writeFile(join(fx.root, "notes.txt"), "x");
    await expect(Stratum0.openOrCreate(fx.root, { fqrn: FQRN, keysDir: fx.keysDir })).rejects.toThrow(/neither a stratum 0 nor empty/);
  });

  it("publishes revisions 1 and 2 with one history tag each, reflog and manifest in step", async () => {
    const first = await publishSample(fx.s0, 1, pool);
    expect(first.manifest.revision).toBe(1);
    const second = await publishSample(fx.s0, 2, pool);
    expect(second.manifest.revision).toBe(2);
    expect(second.manifest.catalogHash).not.toBe(first.manifest.catalogHash);
    const { tags, props } = await historyTags(fx.s0);
    expect(tags.map((t) => [t.name, t.revision, t.hash, t.description])).toEqual([
      ["sample-2", 2, second.manifest.catalogHash, "variant 2"],
      ["sample-1", 1, first.manifest.catalogHash, "variant 1"],
      [expect.stringMatching(/^generic-/), 0, expect.any(String), "empty repository"],
    ]);
    expect(props.previous_revision).toBe(first.manifest.historyHash);
    const refs = readReflog(join(fx.dir, ".cvmfsreflog"));
    const catalogs = refs.filter((r) => r.type === "catalog").map((r) => r.hash);
    expect(catalogs).toEqual(expect.arrayContaining([first.manifest.catalogHash, second.manifest.catalogHash]));
    expect(refs.filter((r) => r.type === "history").map((r) => r.hash)).toContain(second.manifest.historyHash);
    const { problems, stats } = await verifyRepository({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
    expect(problems).toEqual([]);
    expect(stats).toMatchObject({ revision: 2, catalogs: 2 });
  });

  it("refuses a root catalog that is not newer, and a stale base", async () => {
    const m = fx.s0.manifest();
    await expect(fx.s0.publish({ rootHash: m.catalogHash, rootSize: m.catalogSize })).rejects.toThrow(/not newer/);
    const next = await prepareRoot(fx.s0, 3);
    await expect(fx.s0.publish({ ...next, baseRootHash: "0".repeat(40) })).rejects.toThrow(/conflict/);
  });

  it.each<PublishStep>(["objects", "history", "reflog", "whitelist", "manifest"])(
    "leaves the previous revision whole when a publish dies after %s",
    async (step) => {
      const before = await readFile(join(fx.dir, ".cvmfspublished"));
      const reflog = await readFile(join(fx.dir, ".cvmfsreflog"));
      const next = await prepareRoot(fx.s0, 10);
      fx.fault.step = step;
      try {
        await expect(fx.s0.publish(next)).rejects.toThrow(`injected fault after ${step}`);
      } finally {
        fx.fault.step = undefined;
      }
      expect(await readFile(join(fx.dir, ".cvmfspublished"))).toEqual(before);
      expect(await readFile(join(fx.dir, ".cvmfsreflog"))).toEqual(reflog);
      await expect(access(join(fx.dir, ".cvmfs_publish.lock"))).rejects.toThrow();
      const { problems, stats } = await verifyRepository({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
      expect(problems).toEqual([]);
      expect(stats.revision).toBe(2);
    },
  );

  it.each<PublishStep>(["history", "reflog", "manifest"])("survives a publisher killed with SIGKILL after %s", async (step) => {
    const before = await readFile(join(fx.dir, ".cvmfspublished"));
    const child = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "publish-child.ts"), fx.dir, fx.keysDir, FQRN, step], {
      encoding: "utf8",
      // The killed child cannot clean up its temp files: keep them inside the fixture.
      env: { ...process.env, TMPDIR: fx.root },
    });
    expect(child.signal).toBe("SIGKILL");
    expect(await readFile(join(fx.dir, ".cvmfspublished"))).toEqual(before);
    const { problems } = await verifyRepository({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
    expect(problems).toEqual([]);
    // The dead publisher's lock is stale: a new publish goes ahead.
    await expect(access(join(fx.dir, ".cvmfs_publish.lock"))).resolves.toBeUndefined();
  });

  it("repairs a reflog replaced just before a crash, on the next open", async () => {
    const reflog = join(fx.dir, ".cvmfsreflog");
    await copyFile(reflog, join(fx.dir, "data/txn/reflog.prev"));
    addReflogRefs(reflog, [{ hash: "f".repeat(40), type: "catalog" }]);
    expect((await verifyRepository({ dir: fx.dir }, { fqrn: FQRN })).problems).toEqual([expect.stringMatching(/^\.cvmfsreflog: hash/)]);
    const reopened = await Stratum0.openOrCreate(fx.dir, { fqrn: FQRN, keysDir: fx.keysDir });
    await reopened.close();
    expect((await verifyRepository({ dir: fx.dir }, { fqrn: FQRN })).problems).toEqual([]);
  });

  it("publishes after the failed attempts", async () => {
    const next = await prepareRoot(fx.s0, 11);
    expect((await fx.s0.publish(next)).revision).toBe(3);
  });

  it("never lets two publishers interleave, and takes over a stale lock", async () => {
    const other = await Stratum0.openOrCreate(fx.dir, { fqrn: FQRN, keysDir: fx.keysDir, lockTimeoutMs: 300 });
    try {
      const next = await prepareRoot(other, 12);
      let inside = false;
      await fx.s0.withLock(async () => {
        inside = true;
        await expect(other.publish(next)).rejects.toThrow(/locked by another publisher/);
      });
      expect(inside).toBe(true);
      // A lock left by a process that no longer exists.
      await writeFile(join(fx.dir, ".cvmfs_publish.lock"), `999999999 ${(await import("node:os")).hostname()}\n`);
      expect((await other.publish(next)).revision).toBe(4);
      expect((await fx.s0.refresh()).revision).toBe(4);
    } finally {
      await other.close();
    }
  });

  it.each(["shake128", "rmd160"] as const)("creates, publishes and verifies a %s repository", async (algo) => {
    const dir = join(fx.root, `s0-${algo}`);
    const s0 = await Stratum0.openOrCreate(dir, { fqrn: FQRN, keysDir: fx.keysDir, hashAlgorithm: algo });
    try {
      const { manifest } = await publishSample(s0, 1, pool);
      expect(manifest.catalogHash.endsWith(`-${algo}`)).toBe(true);
      expect(manifest.reflogHash!.endsWith(`-${algo}`)).toBe(true);
      const published = await readFile(join(dir, ".cvmfspublished"), "latin1");
      expect(published).toMatch(new RegExp(`\n--\n[0-9a-f]{40}-${algo}\n`));
      expect(await readFile(join(dir, ".cvmfswhitelist"), "latin1")).toMatch(new RegExp(`^([0-9A-F]{2}:){19}[0-9A-F]{2}-${algo.toUpperCase()}$`, "m"));
      const { problems } = await verifyRepository({ dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
      expect(problems).toEqual([]);
    } finally {
      await s0.close();
    }
  });
});
