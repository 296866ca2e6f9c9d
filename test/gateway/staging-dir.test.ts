import { spawnSync } from "node:child_process";
import { access, mkdir, readdir, utimes } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { debrisName } from "../../src/debris.js";
import { newStagingDir } from "../../src/gateway/staging-dir.js";
import { testdir, type Testdir } from "../support/testdir.js";

let cache: Testdir;
beforeAll(async () => {
  cache = await testdir();
});
afterAll(async () => {
  await cache.cleanup();
});

const exists = (p: string) => access(p).then(() => true, () => false);

describe("gateway staging directories", () => {
  it("of a killed sync are swept when the next sync stages, those of live runs never", async () => {
    const child = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "_staging-child.ts"), cache.path], { encoding: "utf8" });
    expect(child.signal).toBe("SIGKILL");
    const killed = child.stdout.trim();
    expect(killed.startsWith(join(cache.path, "staging"))).toBe(true);
    expect((await readdir(join(killed, "data"))).length).toBe(257);
    // A directory of a run still going (this process), one of an older version (no maker in
    // its name) that is recent, and one untouched for two days.
    const live = join(cache.path, "staging", debrisName("live"));
    const recent = join(cache.path, "staging", "tags-0a1b2c3d");
    const old = join(cache.path, "staging", "tags-99999999");
    for (const d of [live, recent, old]) await mkdir(d);
    const twoDaysAgo = (Date.now() - 48 * 3600_000) / 1000;
    await utimes(old, twoDaysAgo, twoDaysAgo);

    const next = await newStagingDir(cache.path, "next");
    expect(next.startsWith(join(cache.path, "staging", `next.${process.pid}.`))).toBe(true);
    expect(await exists(killed)).toBe(false);
    expect(await exists(old)).toBe(false);
    expect(await exists(live)).toBe(true);
    expect(await exists(recent)).toBe(true);
  });
});
