import { spawnSync } from "node:child_process";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { debrisName, debrisOwner, hostTag, makerIsGone, sweepDebris } from "../src/debris.js";
import { cleanupTestdirs, testdir, type Testdir } from "./support/testdir.js";

/** A pid that existed a moment ago and is gone now: a child that ran and exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

describe("debris names", () => {
  it("name their maker, and only this tool's names parse", () => {
    const name = debrisName("gw-commit");
    expect(name).toMatch(new RegExp(`^gw-commit\\.${process.pid}\\.${hostTag()}\\.[0-9a-f]{12}$`));
    expect(debrisOwner(name)).toEqual({ pid: process.pid, hostTag: hostTag() });
    expect(debrisOwner(`.${debrisName("cvmfs-lock")}`)?.pid).toBe(process.pid);
    expect(debrisName("Odd Name/x")).toMatch(/^odd-name-x\./);
    for (const other of ["reflog.prev", "payload.0123abcd", "12345-1-abcd-0", "history.123.abcdef"]) expect(debrisOwner(other)).toBeUndefined();
  });

  it("prove a maker gone only on this host, for a pid that no longer runs", () => {
    const gone = deadPid();
    expect(makerIsGone(`obj.${gone}.${hostTag()}.1-aa-0`)).toBe(true);
    expect(makerIsGone(`obj.${gone}.${hostTag("another.host")}.1-aa-0`)).toBe(false);
    expect(makerIsGone(`obj.1.${hostTag()}.1-aa-0`)).toBe(false);
    expect(makerIsGone(debrisName("obj"))).toBe(false);
  });
});

describe("sweepDebris", () => {
  let dir: Testdir;
  beforeAll(async () => {
    dir = await testdir();
  });
  afterAll(cleanupTestdirs);

  it("removes what dead makers left and what is older than the safe age, nothing of a live run", async () => {
    const gone = deadPid();
    const dayAgo = (Date.now() - 25 * 3600_000) / 1000;
    const entries = {
      deadFile: `history.${gone}.${hostTag()}.0a0b0c0d0e0f`,
      deadDir: `gw-commit.${gone}.${hostTag()}.0a0b0c0d0e0f`,
      mine: debrisName("reflog"),
      otherHost: `payload.${gone}.${hostTag("elsewhere")}.00`,
      freshUnmarked: "12345-1-abcd-0",
      oldUnmarked: "old-temp-file",
      backup: "reflog.prev",
    };
    await mkdir(dir.join(entries.deadDir, "data"), { recursive: true });
    for (const n of [entries.deadFile, entries.mine, entries.otherHost, entries.freshUnmarked, entries.oldUnmarked, entries.backup]) await writeFile(dir.join(n), "x");
    await utimes(dir.join(entries.oldUnmarked), dayAgo, dayAgo);
    await utimes(dir.join(entries.backup), dayAgo, dayAgo);
    const removed = await sweepDebris(dir.path, { match: (n) => n !== "reflog.prev" });
    expect(removed.sort()).toEqual([entries.deadDir, entries.deadFile, entries.oldUnmarked].sort());
    expect((await readdir(dir.path)).sort()).toEqual([entries.backup, entries.freshUnmarked, entries.mine, entries.otherHost].sort());
    expect(await sweepDebris(dir.join("missing"))).toEqual([]);
  });
});
