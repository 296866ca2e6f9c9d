/**
 * The run report, pure: rows get their wishlist line, errors split into code and message, the
 * result says how the run ended; and `withRunReport` writes it however the run ends.
 */
import { readFile } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { ConflictError, RepositoryError } from "../../src/errors.js";
import { memoryLogger } from "../../src/logger.js";
import { withRunReport } from "../../src/status/run-report-file.js";
import { RunReport, assembleRunReport, splitError, type RunRecord } from "../../src/status/run-report.js";
import type { WishlistEntry } from "../../src/wishlist/entry.js";
import { parseImageReference } from "../../src/wishlist/reference.js";
import { cleanupTestdirs, testdir } from "../support/testdir.js";

afterAll(cleanupTestdirs);

const entry = (line: number, text: string): WishlistEntry => ({ file: "images.txt", line, text, ref: parseImageReference(text) });
const started = new Date("2026-11-01T10:00:00.000Z");

function record(): RunRecord {
  return {
    repository: "images.test.org",
    startedAt: started,
    wishlists: ["images.txt"],
    owner: "site",
    shard: { index: 2, total: 3 },
    entries: [entry(1, "centos:7"), entry(2, "ghcr.io/org/tool:1"), entry(3, "nope.example/x:1")],
    tags: [
      { action: "keep", publicPath: "/library/centos:7", file: "images.txt", line: 1, convert: false },
      { action: "update", publicPath: "/org/tool:1", file: "images.txt", line: 2, convert: true },
    ],
    failures: [{ entry: entry(3, "nope.example/x:1"), reference: "nope.example/x:1", code: "E_REGISTRY", message: "connect ECONNREFUSED" }],
    result: {
      rows: [
        { image: "docker.io/library/centos:7", publicPath: "/library/centos:7", action: "keep", digest: "sha256:aa", files: 10, bytes: 100, result: "ok" },
        { image: "ghcr.io/org/tool:1", publicPath: "/org/tool:1", action: "update", digest: "sha256:bb", seconds: 1.5, result: "failed", error: "[E_LAYER] layer 1/2 sha256:cc: unexpected end of file" },
        { image: "nope.example/x:1", action: "resolve", result: "failed", error: "[E_REGISTRY] images.txt:3: connect ECONNREFUSED" },
      ],
      revision: 12,
      commits: 1,
      failed: 2,
    },
  };
}

describe("assembleRunReport", () => {
  it("gives each row its wishlist line and its error as code and message", () => {
    const report = RunReport.parse(assembleRunReport(record(), new Date("2026-11-01T10:02:30.000Z")));
    expect(report).toMatchObject({
      shard: { index: 2, total: 3 },
      startedAt: "2026-11-01T10:00:00.000Z",
      finishedAt: "2026-11-01T10:02:30.000Z",
      seconds: 150,
      result: "failed",
      revision: 12,
      commits: 1,
      summary: { names: 2, ok: 1, failed: 2, skipped: 0, failedImages: 2 },
    });
    expect(report.rows.map((r) => [r.origin, r.error])).toEqual([
      [{ file: "images.txt", line: 1, text: "centos:7" }, undefined],
      [{ file: "images.txt", line: 2, text: "ghcr.io/org/tool:1" }, { code: "E_LAYER", message: "layer 1/2 sha256:cc: unexpected end of file" }],
      [{ file: "images.txt", line: 3, text: "nope.example/x:1" }, { code: "E_REGISTRY", message: "connect ECONNREFUSED" }],
    ]);
  });

  it.each([
    ["a run that threw", new ConflictError("the repository changed", { cause: new Error("name /a:1 moved") }), { result: "error", error: { code: "E_CONFLICT", message: "the repository changed: name /a:1 moved" } }],
    ["a run with nothing to do", undefined, { result: "ok", rows: [], summary: { names: 0, ok: 0, failed: 0, skipped: 0, failedImages: 0 } }],
  ])("%s", (_name, error, expected) => {
    const { repository, startedAt } = record();
    const report = RunReport.parse(assembleRunReport({ repository, startedAt }, new Date("2026-11-01T10:00:01.000Z"), error));
    expect(report).toMatchObject({ shard: null, wishlists: [], ...expected });
    expect(report.revision).toBeUndefined();
  });

  it.each([
    ["[E_REGISTRY] HTTP 404", undefined, { code: "E_REGISTRY", message: "HTTP 404" }],
    ["[E_REGISTRY] a.txt:3: HTTP 404", { file: "a.txt", line: 3 }, { code: "E_REGISTRY", message: "HTTP 404" }],
    ["[E_REGISTRY] a.txt:4: HTTP 404", { file: "a.txt", line: 3 }, { code: "E_REGISTRY", message: "a.txt:4: HTTP 404" }],
    ["no code\nat all", undefined, { code: "E_INTERNAL", message: "no code\nat all" }],
  ])("splits %j", (text, origin, expected) => {
    expect(splitError(text, origin)).toEqual(expected);
  });
});

describe("withRunReport", () => {
  it("writes the report of a run that ends, and of one that throws (then rethrows)", async () => {
    const dir = await testdir();
    const logger = memoryLogger();
    const ok = record();
    expect(await withRunReport(dir.join("ok.json"), ok, logger, async () => 1)).toBe(1);
    expect(RunReport.parse(JSON.parse(await readFile(dir.join("ok.json"), "utf8"))).result).toBe("failed");

    const failing: RunRecord = { repository: "images.test.org", startedAt: started };
    const boom = new RepositoryError("create lock: ENOSPC");
    await expect(withRunReport(dir.join("error.json"), failing, logger, async () => Promise.reject(boom))).rejects.toBe(boom);
    expect(RunReport.parse(JSON.parse(await readFile(dir.join("error.json"), "utf8")))).toMatchObject({ result: "error", error: { code: "E_REPOSITORY", message: "create lock: ENOSPC" } });
    expect(logger.events).toEqual([]);
  });

  it("without a file, only runs", async () => {
    expect(await withRunReport(undefined, record(), memoryLogger(), async () => 0)).toBe(0);
  });
});
