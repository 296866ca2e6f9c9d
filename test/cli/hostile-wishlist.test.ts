/**
 * What the merge-request check job prints for a hostile wishlist: nothing in its log may act on
 * the terminal (a fake green "all lines OK" over its own error), nothing is printed in full twice.
 */
import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/run-cli.js";
import { testdir, type Testdir } from "../support/testdir.js";

const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

let dir: Testdir;
beforeAll(async () => {
  dir = await testdir();
});
afterAll(async () => {
  await dir.cleanup();
});

describe("plan --offline on a hostile wishlist", () => {
  it("prints control bytes escaped, in the table and in the error, and exits 2", async () => {
    const file = dir.join("hostile.txt");
    await writeFile(file, `alpine:3.20\nbad\x1b[2K\r\x1b[32mall lines OK\x1b[0m\ncent\x00os:7\n`);
    const run = await runCli(["plan", "--offline", "--wishlist", file]);
    expect(run.code).toBe(2);
    expect(run.stdout + run.stderr).not.toMatch(RAW_CONTROL);
    expect(run.stdout).toContain("\\x1b[32mall lines OK");
    expect(run.stderr).toContain(`${file}:2:`);
    expect(run.stderr).toContain("\\x1b[2K\\x0d");
    expect(run.stderr).toContain(`${file}:3:`);
  });

  it("shortens a 10,000-character line to its start and its length", async () => {
    const file = dir.join("long.txt");
    await writeFile(file, `Library/${"A".repeat(10_000)}:1\n`);
    const run = await runCli(["plan", "--offline", "--wishlist", file]);
    expect(run.code).toBe(2);
    expect(run.stdout.length + run.stderr.length).toBeLessThan(2_000);
    expect(run.stderr).toMatch(/\(10010 characters\)/);
  });
});
