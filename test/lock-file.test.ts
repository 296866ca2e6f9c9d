import { spawnSync } from "node:child_process";
import { readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireLock } from "../src/lock-file.js";
import { memoryLogger } from "../src/logger.js";
import { testdir, type Testdir } from "./support/testdir.js";

let dir: Testdir;
beforeAll(async () => {
  dir = await testdir();
});
afterAll(async () => {
  await dir.cleanup();
});

const deadPid = () => Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);

describe("the publish lock file", () => {
  it("records pid, host and time, and leaves nothing beside it", async () => {
    const path = dir.join("a.lock");
    const lock = await acquireLock(path);
    const [pid, host, taken] = (await readFile(path, "utf8")).trim().split(" ");
    expect([Number(pid), host]).toEqual([process.pid, hostname()]);
    expect(Math.abs(Date.parse(taken!) - Date.now())).toBeLessThan(5000);
    expect(await readdir(dir.path)).toEqual(["a.lock"]);
    await lock.release();
    expect(await readdir(dir.path)).toEqual([]);
  });

  it("is waited for while live, and taken over with a warning when stale", async () => {
    const path = dir.join("b.lock");
    const cases = [
      { owner: `${deadPid()} ${hostname()} ${new Date().toISOString()}\n`, stale: true },
      { owner: `1 elsewhere.example.org ${new Date(Date.now() - 3 * 3600_000).toISOString()}\n`, stale: true },
      { owner: `1 elsewhere.example.org ${new Date().toISOString()}\n`, stale: false },
      // Written by an older version: pid and host only; another host's is judged by its age.
      { owner: "1 elsewhere.example.org\n", stale: false },
      { owner: `${process.ppid} ${hostname()}\n`, stale: false },
    ];
    for (const { owner, stale } of cases) {
      await writeFile(path, owner);
      const logger = memoryLogger();
      const taken = await acquireLock(path, { timeoutMs: 250, pollMs: 20, logger }).then(
        (l) => l,
        (e: unknown) => e as Error & { code?: string },
      );
      if (stale) {
        expect("release" in taken).toBe(true);
        expect(logger.events.map((e) => e.event)).toEqual(["stratum0.stale_lock"]);
        await (taken as { release(): Promise<void> }).release();
      } else {
        expect((taken as Error).message).toContain(`locked by another publisher (${owner.trim()})`);
        expect((taken as { code?: string }).code).toBe("E_REPOSITORY");
        expect(logger.events).toEqual([]);
      }
    }
    // An old version's lock of another host, untouched for longer than any lease: stale too.
    await writeFile(path, "1 elsewhere.example.org\n");
    const old = (Date.now() - 3 * 3600_000) / 1000;
    await utimes(path, old, old);
    await (await acquireLock(path, { timeoutMs: 250 })).release();
    expect(await readdir(dir.path)).toEqual([]);
  });
});
