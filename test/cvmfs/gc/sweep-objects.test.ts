import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { filesystemNow, sweepObjects } from "../../../src/cvmfs/gc/sweep-objects.js";
import { testdir, type Testdir } from "../../support/testdir.js";

describe("sweepObjects", () => {
  let dir: Testdir;
  beforeEach(async () => {
    dir = await testdir();
  });
  afterEach(async () => {
    await dir.cleanup();
  });

  const kept = `ab${"1".repeat(38)}C`;
  const old = `ab${"2".repeat(38)}P`;
  const oldRmd = `cd${"3".repeat(38)}-rmd160`;
  const fresh = `cd${"4".repeat(38)}`;

  async function layout(): Promise<number> {
    for (const d of ["ab", "cd", "txn"]) await mkdir(dir.join(`data/${d}`), { recursive: true });
    const put = async (key: string, bytes: string) => writeFile(dir.join(`data/${key.slice(0, 2)}/${key.slice(2)}`), bytes);
    await put(kept, "kept");
    await put(old, "old chunk");
    await put(oldRmd, "old rmd160 file");
    await writeFile(dir.join("data/ab/not-an-object"), "x");
    await writeFile(dir.join(`data/txn/${"5".repeat(40)}`), "being written");
    const then = new Date("2020-01-01T00:00:00Z");
    for (const k of [kept, old, oldRmd]) await utimes(dir.join(`data/${k.slice(0, 2)}/${k.slice(2)}`), then, then);
    const start = await filesystemNow(dir.path);
    await put(fresh, "written while gc runs");
    return start;
  }

  const listing = async () => ({
    ab: (await readdir(dir.join("data/ab"))).sort(),
    cd: (await readdir(dir.join("data/cd"))).sort(),
    txn: await readdir(dir.join("data/txn")),
  });

  it("deletes old unreachable objects only: not the reachable, the fresh, the foreign names or data/txn", async () => {
    const start = await layout();
    const before = await listing();
    const reachable = new Set([kept]);
    const dry = await sweepObjects(dir.path, reachable, { protectFrom: start, dryRun: true });
    expect(dry).toEqual({ kept: 1, deleted: 2, deletedBytes: "old chunk".length + "old rmd160 file".length, recent: 1 });
    expect(await listing()).toEqual(before);

    const deleted: string[] = [];
    const real = await sweepObjects(dir.path, reachable, { protectFrom: start, dryRun: false, onDelete: (k) => void deleted.push(k) });
    expect(real).toEqual(dry);
    expect(deleted.sort()).toEqual([old, oldRmd].sort());
    expect(await listing()).toEqual({ ab: [kept.slice(2), "not-an-object"].sort(), cd: [fresh.slice(2)], txn: ["5".repeat(40)] });
  });
});
