import { mkdir, readFile, readdir, readlink, stat, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { memoryLogger } from "../../src/logger.js";
import { checkSandboxTarget, clearSandboxWorkArea, placeSandbox, sandboxWorkArea } from "../../src/sandbox/sandbox-place.js";
import { cleanupTestdirs, shmIsSeparate, testdir } from "../support/testdir.js";

afterAll(cleanupTestdirs);

/** A finished sandbox in progress at `partial`, with its sidecar. */
async function finished(partial: string): Promise<void> {
  await mkdir(join(partial, "bin"), { recursive: true });
  await writeFile(join(partial, "bin", "tool"), "tool", { mode: 0o750 });
  await utimes(join(partial, "bin", "tool"), 1_600_000_000, 1_600_000_000);
  await symlink("bin/tool", join(partial, "run"));
  await writeFile(`${partial}.meta.json`, '{"format":"x"}');
}


describe("sandbox work area", () => {
  it("names hidden siblings of DIR, distinct per run, and checks DIR before any work", async () => {
    const dir = await testdir({ "busy/x": "mine", "file": "f" });
    const a = sandboxWorkArea(dir.join("sb"));
    const b = sandboxWorkArea(dir.join("sb"));
    expect(a.staging).toMatch(new RegExp(`^${dir.path}/\\.sb\\.[0-9a-f]{8}\\.staging$`));
    expect(a.partial).toMatch(/\.partial$/);
    expect(a.partial).not.toBe(b.partial);
    await checkSandboxTarget(dir.join("new", "deeper", "sb"));
    expect(await readdir(dir.join("new", "deeper"))).toEqual([]);
    await expect(checkSandboxTarget(dir.join("busy"))).rejects.toThrow(/not empty/);
    await expect(checkSandboxTarget(dir.join("file"))).rejects.toThrow(/not a directory/);
  });

  it("renames the finished sandbox and its sidecar into place, over an empty DIR too", async () => {
    const dir = await testdir({ "empty/": "" });
    for (const target of [dir.join("absent"), dir.join("empty")]) {
      const area = sandboxWorkArea(target);
      await finished(area.partial);
      await placeSandbox(area.partial, target, memoryLogger());
      expect(await readFile(join(target, "bin", "tool"), "utf8")).toBe("tool");
      expect(await readFile(`${target}.meta.json`, "utf8")).toBe('{"format":"x"}');
      await clearSandboxWorkArea(area);
    }
    expect((await readdir(dir.path)).sort()).toEqual(["absent", "absent.meta.json", "empty", "empty.meta.json"]);
  });

  it("refuses a DIR someone filled meanwhile, and leaves their files alone", async () => {
    const dir = await testdir({ "sb/theirs": "someone else's" });
    const area = sandboxWorkArea(dir.join("sb"));
    await finished(area.partial);
    const err = await placeSandbox(area.partial, dir.join("sb"), memoryLogger()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(await readdir(dir.join("sb"))).toEqual(["theirs"]);
    await clearSandboxWorkArea(area);
    expect((await readdir(dir.path)).sort()).toEqual(["sb"]);
  });

  it.skipIf(!shmIsSeparate())("copies into a DIR on another filesystem, keeping modes, times and symlinks, with a warning", async () => {
    const shm = await testdir({}, "cis-place-", "/dev/shm");
    const dir = await testdir({ "mount/": "" });
    const partial = shm.join("sb.partial");
    await finished(partial);
    const logger = memoryLogger();
    await placeSandbox(partial, dir.join("mount"), logger);
    expect(logger.events.map((e) => e.event)).toContain("sandbox.copy");
    const tool = await stat(dir.join("mount", "bin", "tool"));
    expect(tool.mode & 0o777).toBe(0o750);
    expect(tool.mtimeMs).toBe(1_600_000_000_000);
    expect(await readlink(dir.join("mount", "run"))).toBe("bin/tool");
    expect(await readFile(dir.join("mount.meta.json"), "utf8")).toBe('{"format":"x"}');
    expect(await readdir(shm.path)).toEqual([]);
  });
});
