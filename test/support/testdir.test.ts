import { existsSync, readFileSync, statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cleanupTestdirs, testdir } from "./testdir.js";

describe("testdir", () => {
  it("builds a tree from a table and removes it", async () => {
    const dir = await testdir({ "a/b.txt": "hello", "empty/": "", "bin": Buffer.from([0, 1, 2]) });
    expect(readFileSync(dir.join("a/b.txt"), "utf8")).toBe("hello");
    expect(statSync(dir.join("empty")).isDirectory()).toBe(true);
    expect(readFileSync(dir.join("bin"))).toEqual(Buffer.from([0, 1, 2]));
    const other = await testdir();
    await dir.cleanup();
    expect(existsSync(dir.path)).toBe(false);
    expect(existsSync(other.path)).toBe(true);
    await cleanupTestdirs();
    expect(existsSync(other.path)).toBe(false);
  });
});
