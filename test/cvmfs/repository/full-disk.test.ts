/**
 * A stratum 0 on a full disk (a small tmpfs, mounted as root; skipped where mounting is not
 * permitted): the failure names ENOSPC and is no configuration error, the repository stays at
 * its previous revision and verifies, nothing half-written stays behind (no empty lock file), and
 * the next run, once there is room, succeeds at once.
 */
import { spawnSync } from "node:child_process";
import { access, mkdir, open, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Stratum0 } from "../../../src/cvmfs/repository/stratum0.js";
import { verifyRepository } from "../../../src/cvmfs/repository/verify.js";
import { runCli } from "../../support/run-cli.js";
import { testdir, type Testdir } from "../../support/testdir.js";
import { prepareRoot } from "./repo-fixture.js";

const FQRN = "full.test";
let work: Testdir;
let mnt: string;
let mounted = false;

beforeAll(async () => {
  work = await testdir();
  mnt = work.join("mnt");
  await mkdir(mnt);
  mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt]).status === 0;
});
afterAll(async () => {
  if (mounted) spawnSync("umount", ["-l", mnt]);
  await work.cleanup();
});

/** Fill the filesystem of `dir` until a write fails with ENOSPC. */
async function fill(dir: string): Promise<void> {
  const fh = await open(join(dir, "filler"), "w");
  try {
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (;;) await fh.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

const exists = (p: string) => access(p).then(() => true, () => false);

describe("a stratum 0 on a full disk", () => {
  it("fails a publish naming ENOSPC, keeps the previous revision, and publishes once there is room", async (t) => {
    if (!mounted) t.skip();
    const dir = join(mnt, "s0");
    const keysDir = work.join("keys");
    const s0 = await Stratum0.openOrCreate(dir, { fqrn: FQRN, keysDir });
    try {
      const next = await prepareRoot(s0, 1);
      await fill(mnt);
      const err = await s0.publish(next).then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(err?.code).toBe("E_REPOSITORY");
      expect(err?.message).toMatch(/ENOSPC/);
      expect(await exists(join(dir, ".cvmfs_publish.lock"))).toBe(false);
      expect(await readdir(join(dir, "data", "txn"))).toEqual([]);
      const before = await verifyRepository({ dir }, { fqrn: FQRN, pubkeyPath: join(keysDir, `${FQRN}.pub`) });
      expect(before.problems).toEqual([]);
      expect(before.stats.revision).toBe(0);

      await rm(join(mnt, "filler"));
      const started = Date.now();
      expect((await s0.publish(next)).revision).toBe(1);
      expect(Date.now() - started).toBeLessThan(3000);
      const after = await verifyRepository({ dir }, { fqrn: FQRN, pubkeyPath: join(keysDir, `${FQRN}.pub`) });
      expect(after.problems).toEqual([]);
      expect(after.stats.revision).toBe(1);
    } finally {
      await s0.close();
      await rm(join(mnt, "filler"), { force: true });
    }
  });

  it("cannot take the lock: exit 1 naming ENOSPC, no lock file left, and the next run does not stall", async (t) => {
    if (!mounted) t.skip();
    const dir = join(mnt, "s0");
    const wishlist = work.join("empty.txt");
    await writeFile(wishlist, "");
    const args = ["sync", "--wishlist", wishlist, "--stratum0", dir, "--repo", FQRN, "--keys-dir", work.join("keys"), "--cache-dir", work.join("cache")];
    await fill(mnt);
    try {
      const run = await runCli(args);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/error \[E_REPOSITORY\]: create lock .*ENOSPC/);
      expect((await readdir(dir)).filter((n) => n.includes("lock"))).toEqual([]);
    } finally {
      await rm(join(mnt, "filler"));
    }
    const started = Date.now();
    const again = await runCli(args);
    expect(again.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("creates a new repository whole or not at all", async (t) => {
    // Too few inodes for the 257 directories of data/: the lock is taken, the creation fails midway.
    const starved = work.join("starved");
    await mkdir(starved);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m,nr_inodes=64", "tmpfs", starved]).status !== 0) t.skip();
    try {
      for (const [dir, existed] of [[join(starved, "new-s0"), false], [join(starved, "empty-s0"), true]] as const) {
        if (existed) await mkdir(dir);
        const err = await Stratum0.openOrCreate(dir, { fqrn: FQRN, keysDir: work.join("keys") }).then(
          async (s0) => {
            await s0.close();
            return undefined;
          },
          (e: unknown) => e as Error,
        );
        expect(err?.message).toMatch(/create content store .*ENOSPC/);
        // Nothing of the attempt stays: no directory it made, and an empty one stays empty.
        if (existed) expect(await readdir(dir)).toEqual([]);
        else expect(await exists(dir)).toBe(false);
      }
    } finally {
      spawnSync("umount", ["-l", starved]);
    }
  });
});
