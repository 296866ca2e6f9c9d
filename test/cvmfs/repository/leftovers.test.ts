/**
 * What killed runs leave (temp files under data/txn, catalog copies in $TMPDIR, a lock) is gone
 * after the next run, and a run that goes well leaves nothing of its own.
 */
import { spawnSync } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyRepository } from "../../../src/cvmfs/repository/verify.js";
import { testdir, type Testdir } from "../../support/testdir.js";

const FQRN = "leftovers.test";
let work: Testdir;

beforeAll(async () => {
  work = await testdir({ "tmp/": "" });
});
afterAll(async () => {
  await work.cleanup();
});

/** This tool's entries in a directory (tsx keeps its own cache in $TMPDIR). */
async function ours(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith("cvmfs-"));
}

/** A publish in a child process whose $TMPDIR is the test's own, dying after `step` (or not: `none`). */
function publishChild(step: string) {
  return spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "publish-child.ts"), work.join("s0"), work.join("keys"), FQRN, step], {
    encoding: "utf8",
    env: { ...process.env, TMPDIR: work.join("tmp") },
  });
}

describe("leftovers of killed publishes", () => {
  it("are swept by the next run, which then leaves nothing behind", async () => {
    expect(publishChild("none").status).toBe(0);
    expect(await ours(work.join("tmp"))).toEqual([]);
    expect(await readdir(work.join("s0", "data", "txn"))).toEqual([]);

    const crashed = publishChild("reflog");
    expect(crashed.signal).toBe("SIGKILL");
    // The dead publisher's staged reflog, its catalog copies and its lock.
    expect((await readdir(work.join("s0", "data", "txn"))).length).toBeGreaterThan(0);
    expect((await readdir(work.join("tmp"))).some((n) => n.startsWith("cvmfs-s0-catalogs."))).toBe(true);
    expect(await readdir(work.join("s0"))).toContain(".cvmfs_publish.lock");

    const next = publishChild("none");
    expect(next.stderr).toBe("");
    expect(next.status).toBe(0);
    expect(await ours(work.join("tmp"))).toEqual([]);
    expect(await readdir(work.join("s0", "data", "txn"))).toEqual([]);
    expect((await readdir(work.join("s0"))).filter((n) => n.includes("lock"))).toEqual([]);
    const { problems, stats } = await verifyRepository({ dir: work.join("s0") }, { fqrn: FQRN, pubkeyPath: work.join("keys", `${FQRN}.pub`) });
    expect(problems).toEqual([]);
    expect(stats.revision).toBe(2);
  });
});
