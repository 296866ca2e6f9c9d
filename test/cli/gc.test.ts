/**
 * `gc` as users and cron jobs call it: flags, defaults, dry run, JSON events, exit codes.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CompressPool } from "../../src/cvmfs/objects/compress-pool.js";
import { parseManifest } from "../../src/cvmfs/repository/manifest.js";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { dataObjects } from "../cvmfs/gc/gc-support.js";
import { createFixture, FQRN, publishSample, type RepoFixture } from "../cvmfs/repository/repo-fixture.js";
import { runCli } from "../support/run-cli.js";

describe("gc", () => {
  let fx: RepoFixture;
  let pool: CompressPool;
  let common: string[];
  beforeAll(async () => {
    pool = new CompressPool({ size: 1 });
    fx = await createFixture();
    await publishSample(fx.s0, 1, pool);
    await publishSample(fx.s0, 2, pool);
    common = ["--stratum0", fx.dir, "--keys-dir", fx.keysDir, "--repo", FQRN];
  });
  afterAll(async () => {
    await fx.close();
    await pool.close();
  });

  it.each([
    [["--keep-revisions", "0"], /--keep-revisions must be a whole number ≥ 1/],
    [["--keep-revisions", "two"], /--keep-revisions must be a number/],
    [["--keep-days", "-1"], /--keep-days must be a number of days ≥ 0/],
  ])("exits 2 on %j and changes nothing", async (flags, message) => {
    const before = await dataObjects(fx.dir);
    const run = await runCli(["gc", ...common, ...flags]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error \[E_CONFIG\]/);
    expect(run.stderr).toMatch(message);
    expect(await dataObjects(fx.dir)).toEqual(before);
  });

  it("exits 2 without a repository or without its keys, and creates neither", async () => {
    const nowhere = join(fx.root, "nowhere");
    const none = await runCli(["gc", "--stratum0", nowhere, "--keys-dir", fx.keysDir, "--repo", FQRN]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`no repository at ${nowhere}`);
    const keys = join(fx.root, "no-keys");
    const nokeys = await runCli(["gc", "--stratum0", fx.dir, "--keys-dir", keys, "--repo", FQRN]);
    expect(nokeys.code).toBe(2);
    expect(nokeys.stderr).toContain(`${keys}/${FQRN}.masterkey is missing`);
    await expect(readFile(join(keys, `${FQRN}.masterkey`))).rejects.toThrow();
  });

  it("--dry-run reports what would go and changes nothing; with the default three days it keeps both revisions", async () => {
    const manifest = await readFile(join(fx.dir, ".cvmfspublished"));
    const before = await dataObjects(fx.dir);
    const dry = await runCli(["gc", ...common, "--keep-revisions", "1", "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^revision 2: kept 1 revision\(s\) with \d+ catalogs and \d+ objects, dropped 2; would delete [1-9]\d* objects \([\d.]+ KiB\); \S+\n$/);
    expect(await readFile(join(fx.dir, ".cvmfspublished"))).toEqual(manifest);
    expect(await dataObjects(fx.dir)).toEqual(before);

    // Every revision is minutes old: the default (three days, as cvmfs_server gc) keeps them all.
    const defaults = await runCli(["gc", ...common]);
    expect(defaults.code).toBe(0);
    expect(defaults.stdout).toMatch(/kept 3 revision\(s\) with \d+ catalogs and \d+ objects, dropped 0;/);
    expect(defaults.stderr).toContain("keeping the 1 newest revision(s) and those of the last 3 day(s)");
  });

  it("collects with --keep-revisions 1, one JSON object per event on stderr, the summary on stdout", async () => {
    const before = await dataObjects(fx.dir);
    const run = await runCli(["gc", ...common, "--keep-revisions", "1", "--log-format", "json"]);
    expect(run.code).toBe(0);
    const lines = run.stderr.split("\n").filter((l) => l !== "");
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e["event"])).toEqual(expect.arrayContaining(["gc.start", "gc.plan", "gc.publish", "gc.done"]));
    const done = events.find((e) => e["event"] === "gc.done")!;
    const after = await dataObjects(fx.dir);
    const gone = [...before.keys()].filter((k) => !after.has(k));
    expect(done).toMatchObject({ revision: 2, keptRevisions: [2], droppedRevisions: [1, 0], objectsKept: after.size, objectsDeleted: gone.length, resigned: true });
    expect(done["bytesDeleted"]).toBe(gone.reduce((sum, k) => sum + before.get(k)!, 0));
    expect(events.find((e) => e["event"] === "gc.start")).toMatchObject({ keepRevisions: 1, keepDays: 0, dryRun: false });
    expect(run.stdout).toBe(`${done["message"]}\n`);
    expect(parseManifest(await readFile(join(fx.dir, ".cvmfspublished"))).manifest.garbageCollectable).toBe(true);
    expect((await verifyRepository({ dir: fx.dir }, { fqrn: FQRN, pubkeyPath: fx.pubkey })).problems).toEqual([]);

    // Read from the environment like every flag; nothing left to collect.
    process.env["CVMFS_IMAGE_SYNC_KEEP_REVISIONS"] = "1";
    try {
      const again = await runCli(["gc", ...common]);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/kept 1 revision\(s\) .*, dropped 0; deleted 0 objects \(0 B\);/);
    } finally {
      delete process.env["CVMFS_IMAGE_SYNC_KEEP_REVISIONS"];
    }
  });
});
