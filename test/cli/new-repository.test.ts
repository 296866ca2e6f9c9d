/**
 * A sync with an empty wishlist into a directory that does not exist yet leaves a complete
 * repository (the choice between "complete" and "nothing"; a creation that fails takes back what
 * it made, see full-disk.test.ts): signed, verifiable, and with a history `cvmfs_swissknife
 * check` accepts (every branch carries a tag).
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyRepository } from "../../src/cvmfs/repository/verify.js";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

let dir: Testdir;
beforeAll(async () => {
  dir = await testdir();
});
afterAll(async () => {
  await dir.cleanup();
});

describe("sync with an empty wishlist into a new directory", () => {
  it("leaves a complete repository", async () => {
    await writeFile(dir.join("empty.txt"), "# nothing yet\n");
    const s0 = dir.join("new", "s0");
    const run = await runCli(["sync", "--wishlist", dir.join("empty.txt"), "--stratum0", s0, "--repo", "empty.test", "--keys-dir", dir.join("keys"), "--cache-dir", dir.join("cache")]);
    expect(run.code).toBe(0);
    expect((await readdir(s0)).sort()).toEqual([".cvmfs_master_replica", ".cvmfspublished", ".cvmfsreflog", ".cvmfswhitelist", "data"]);
    const revision = Number(/^S(\d+)$/m.exec(await readFile(`${s0}/.cvmfspublished`, "latin1"))?.[1]);
    // verify inspects the history as `cvmfs_swissknife check` does (history.ts, inspectHistory).
    const { problems, stats } = await verifyRepository({ dir: s0 }, { fqrn: "empty.test", pubkeyPath: dir.join("keys", "empty.test.pub") });
    expect(problems).toEqual([]);
    expect(stats.revision).toBe(revision);
  });
});
