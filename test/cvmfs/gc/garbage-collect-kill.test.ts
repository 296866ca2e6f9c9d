import { spawnSync } from "node:child_process";
import { cp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { garbageCollect } from "../../../src/cvmfs/gc/garbage-collect.js";
import { CompressPool } from "../../../src/cvmfs/objects/compress-pool.js";
import { parseManifest } from "../../../src/cvmfs/repository/manifest.js";
import { Stratum0 } from "../../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../../src/cvmfs/repository/verify.js";
import { createFixture, FQRN, publishSample, type RepoFixture, type SampleFiles } from "../repository/repo-fixture.js";
import { dataObjects, expectedObjects, openReader, readRevision } from "./gc-support.js";

/**
 * gc SIGKILLed at every step, on a copy of one repository (revisions 0–3, the child keeps 2):
 * the copy must pass verify as it is (no repair first), still serve revisions 3 and 2 byte for
 * byte, and a gc run afterwards must finish the job.
 */
describe("garbageCollect killed with SIGKILL", () => {
  let fx: RepoFixture;
  let pool: CompressPool;
  const kept: { root: string; files: SampleFiles }[] = [];
  let published: Buffer;
  let before: Map<string, number>;
  let count = 0;

  beforeAll(async () => {
    pool = new CompressPool({ size: 1 });
    fx = await createFixture();
    await publishSample(fx.s0, 1, pool);
    for (const variant of [2, 3]) {
      const { manifest, files } = await publishSample(fx.s0, variant, pool);
      kept.unshift({ root: manifest.catalogHash, files });
    }
    published = await readFile(join(fx.dir, ".cvmfspublished"));
    before = await dataObjects(fx.dir);
  });
  afterAll(async () => {
    await fx.close();
    await pool.close();
  });

  it.each(["mark", "history", "s0:reflog", "s0:manifest", "publish", "delete:1", "delete:6"])("after %s", async (point) => {
    const dir = join(fx.root, `copy-${++count}`);
    await cp(fx.dir, dir, { recursive: true });
    const child = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "gc-child.ts"), dir, fx.keysDir, FQRN, point], {
      encoding: "utf8",
      // The killed child cannot clean up its temp files: keep them inside the fixture.
      env: { ...process.env, TMPDIR: fx.root },
    });
    expect(child.signal, child.stderr).toBe("SIGKILL");

    const { problems } = await verifyRepository({ dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey });
    expect(problems).toEqual([]);
    const [at, nth] = point.split(":");
    if (at === "delete") {
      const now = await dataObjects(dir);
      expect([...before.keys()].filter((k) => !now.has(k)).length).toBeGreaterThanOrEqual(Number(nth));
    }
    const manifest = parseManifest(await readFile(join(dir, ".cvmfspublished"))).manifest;
    // Before the manifest's rename the repository is exactly as it was; after it, G=yes.
    const replaced = at === "publish" || at === "delete";
    if (replaced) expect(manifest).toMatchObject({ garbageCollectable: true, revision: 3, catalogHash: kept[0]!.root });
    else expect(await readFile(join(dir, ".cvmfspublished"))).toEqual(published);
    const reader = await openReader(dir, FQRN);
    try {
      for (const { root, files } of kept) {
        const read = await readRevision(reader, root);
        for (const [path, bytes] of files) expect(read.get(path), `${root} ${path}`).toEqual(bytes);
      }
    } finally {
      await reader.close();
    }

    // The next run (taking over the dead one's lock) leaves exactly what revisions 3 and 2 reach.
    const s0 = await Stratum0.openOrCreate(dir, { fqrn: FQRN, keysDir: fx.keysDir });
    try {
      await garbageCollect(s0, { retention: { keepRevisions: 2, keepDays: 0 } });
      const after = await openReader(dir, FQRN);
      try {
        const expected = await expectedObjects(after, kept.map((k) => k.root), after.manifest);
        expect([...(await dataObjects(dir)).keys()].sort()).toEqual([...expected].sort());
      } finally {
        await after.close();
      }
    } finally {
      await s0.close();
    }
    expect((await verifyRepository({ dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey })).problems).toEqual([]);
  });
});
