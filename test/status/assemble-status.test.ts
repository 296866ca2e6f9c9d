/**
 * The status model, pure: where each name's origin, times and failure state come from (the
 * newest report, else the previous status, else the repository), the runs kept per shard, and
 * the figures; every model validates against the status.json schema.
 */
import { describe, expect, it } from "vitest";
import { assembleStatus, type StatusInput } from "../../src/status/assemble-status.js";
import type { RunReport } from "../../src/status/run-report.js";
import { StatusJson } from "../../src/status/status-json.js";
import { createLayout } from "../../src/published/layout.js";
import { emptyPublishedState, type PublishedState } from "../../src/published/published-state.js";
import { digest, hexOf, metadata } from "../sync/_fixtures.js";
import { runReport as report } from "./synthetic.js";

const layout = createLayout({ kind: "osg" });
const dirA = layout.imageDir(digest("config-a"));
const dirB = layout.imageDir(digest("config-b"));
const dirC = layout.imageDir(digest("config-c"));

/** Image a behind /lib/a:1 and /lib/a:latest, image b behind /lib/b:1, image c (no metadata) behind /lib/c:1. */
function state(): PublishedState {
  const s = emptyPublishedState();
  s.images.set(hexOf("config-a"), { hex: hexOf("config-a"), dir: dirA, metadata: metadata("config-a", "manifest-a", ["docker.io/lib/a:1", "docker.io/lib/a:latest"], { convertedAt: "2026-10-01T00:00:00.000Z" }) });
  s.images.set(hexOf("config-b"), { hex: hexOf("config-b"), dir: dirB, metadata: metadata("config-b", "manifest-b", ["docker.io/lib/b:1"], { convertedAt: "2026-10-02T00:00:00.000Z", bytes: 10 }) });
  s.images.set(hexOf("config-c"), { hex: hexOf("config-c"), dir: dirC });
  s.tags.set("/lib/b:1", dirB);
  s.tags.set("/lib/a:latest", dirA);
  s.tags.set("/lib/a:1", dirA);
  s.tags.set("/lib/c:1", dirC);
  s.owners.set("/lib/a:1", ["site"]);
  s.problems.push(`${dirC}: no image metadata (.singularity.d/cvmfs-image-sync.json)`);
  return s;
}

function input(extra: Partial<StatusInput> = {}): StatusInput {
  return { repository: "images.test.org", layout, state: state(), revision: 7, publishedAt: new Date("2026-11-01T10:04:00Z"), reports: [], now: new Date("2026-11-02T00:00:00Z"), ...extra };
}

describe("assembleStatus", () => {
  it("without reports or a previous status: names sorted, named by their metadata's reference, published when converted", () => {
    const s = StatusJson.parse(assembleStatus(input()));
    expect(s.names.map((n) => [n.path, n.name, n.tag, n.publishedAt, n.lastChecked, n.owners, n.origin, n.formats])).toEqual([
      ["/lib/a:1", "docker.io/lib/a:1", "1", "2026-10-01T00:00:00.000Z", null, ["site"], null, ["sandbox"]],
      ["/lib/a:latest", "docker.io/lib/a:latest", "latest", "2026-10-01T00:00:00.000Z", null, [], null, ["sandbox"]],
      ["/lib/b:1", "docker.io/lib/b:1", "1", "2026-10-02T00:00:00.000Z", null, [], null, ["sandbox"]],
      // No metadata: the name is listed, what only the metadata knows is not.
      ["/lib/c:1", "lib/c:1", "1", null, null, [], null, ["sandbox"]],
    ]);
    expect(s.images.map((i) => i.hex)).toEqual([hexOf("config-a"), hexOf("config-b")].sort());
    expect(s.repository).toEqual({
      name: "images.test.org",
      mountPath: "/cvmfs/images.test.org",
      layout: "osg",
      revision: 7,
      publishedAt: "2026-11-01T10:04:00.000Z",
      images: 3,
      names: 4,
      bytes: 1_048_576 + 10,
      storedBytes: null,
      dedupSavedBytes: null,
    });
    expect(s.runs).toEqual([]);
    expect(s.failures).toEqual([]);
    expect(s.problems).toEqual([`${dirC}: no image metadata (.singularity.d/cvmfs-image-sync.json)`]);
  });

  it("takes origins, checks and publication times from the newest report; a failed update marks the name failing", () => {
    const r = report({
      result: "failed",
      rows: [
        { image: "docker.io/lib/a:1", publicPath: "/lib/a:1", action: "add", digest: digest("manifest-a"), result: "ok", origin: { file: "images.txt", line: 3, text: "lib/a:1" } },
        // From a tag pattern's line: the name is the tag's reference, not the pattern.
        { image: "docker.io/lib/a:latest", publicPath: "/lib/a:latest", action: "keep", digest: digest("manifest-a"), result: "ok", origin: { file: "images.txt", line: 4, text: "lib/a:*" } },
        { image: "docker.io/lib/b:1", publicPath: "/lib/b:1", action: "update", digest: digest("manifest-b2"), result: "failed", error: { code: "E_LAYER", message: "layer 2: unexpected EOF" }, origin: { file: "images.txt", line: 5, text: "lib/b:1" } },
        { image: "docker.io/lib/gone:1", action: "resolve", result: "failed", error: { code: "E_REGISTRY", message: "HTTP 404" }, origin: { file: "more.txt", line: 1, text: "lib/gone:1" } },
      ],
    });
    const s = StatusJson.parse(assembleStatus(input({ reports: [r], storage: { bytes: 5_000, storedBytes: 3_000 } })));
    expect(s.names.map((n) => [n.path, n.name, n.publishedAt, n.lastChecked, n.origin, n.failing])).toEqual([
      ["/lib/a:1", "lib/a:1", r.finishedAt, r.finishedAt, { file: "images.txt", line: 3, text: "lib/a:1" }, false],
      // Kept, not published by the run: its image's conversion time.
      ["/lib/a:latest", "docker.io/lib/a:latest", "2026-10-01T00:00:00.000Z", r.finishedAt, { file: "images.txt", line: 4, text: "lib/a:*" }, false],
      ["/lib/b:1", "lib/b:1", "2026-10-02T00:00:00.000Z", r.finishedAt, { file: "images.txt", line: 5, text: "lib/b:1" }, true],
      ["/lib/c:1", "lib/c:1", null, null, null, false],
    ]);
    expect(s.failures.map((f) => [f.image, f.publicPath, f.code, f.message, f.since, f.origin?.file])).toEqual([
      ["docker.io/lib/b:1", "/lib/b:1", "E_LAYER", "layer 2: unexpected EOF", r.startedAt, "images.txt"],
      ["docker.io/lib/gone:1", undefined, "E_REGISTRY", "HTTP 404", r.startedAt, "more.txt"],
    ]);
    expect(s.repository).toMatchObject({ bytes: 5_000, storedBytes: 3_000, dedupSavedBytes: 2_000 });
  });

  it("carries a failure's first day, names' origins, checks and publication times over from the previous status", () => {
    const first = assembleStatus(
      input({
        reports: [
          report({
            rows: [
              { image: "docker.io/lib/a:1", publicPath: "/lib/a:1", action: "add", digest: digest("manifest-a"), result: "ok", origin: { file: "images.txt", line: 3, text: "lib/a:1" } },
              { image: "docker.io/lib/gone:1", action: "resolve", result: "failed", error: { code: "E_REGISTRY", message: "HTTP 404" } },
            ],
          }),
        ],
      }),
    );
    const later = report({
      startedAt: "2026-11-03T10:00:00.000Z",
      finishedAt: "2026-11-03T10:01:00.000Z",
      rows: [
        { image: "docker.io/lib/gone:1", action: "resolve", result: "failed", error: { code: "E_REGISTRY", message: "HTTP 404" } },
        { image: "docker.io/lib/new:1", action: "resolve", result: "failed", error: { code: "E_REGISTRY", message: "HTTP 401" } },
      ],
    });
    const s = assembleStatus(input({ reports: [later], previous: StatusJson.parse(JSON.parse(JSON.stringify(first))) }));
    expect(s.failures.map((f) => [f.image, f.since, f.lastSeen])).toEqual([
      ["docker.io/lib/gone:1", "2026-11-01T10:00:00.000Z", "2026-11-03T10:00:00.000Z"],
      ["docker.io/lib/new:1", "2026-11-03T10:00:00.000Z", "2026-11-03T10:00:00.000Z"],
    ]);
    const a = s.names.find((n) => n.path === "/lib/a:1");
    expect(a).toMatchObject({ name: "lib/a:1", publishedAt: "2026-11-01T10:05:00.000Z", lastChecked: "2026-11-01T10:05:00.000Z", origin: { line: 3 } });

    // The name moved to another image since: its publication time is no longer the previous one.
    const moved = state();
    moved.tags.set("/lib/a:1", dirB);
    const m = assembleStatus(input({ state: moved, previous: first }));
    expect(m.names.find((n) => n.path === "/lib/a:1")?.publishedAt).toBe("2026-10-02T00:00:00.000Z");
  });

  it("keeps the newest report of each shard, and a run's own error", () => {
    const shard = (index: number, finishedAt: string, extra: Partial<RunReport> = {}): RunReport => report({ shard: { index, total: 2 }, finishedAt, rows: [], ...extra });
    const s = assembleStatus(
      input({
        reports: [
          shard(1, "2026-11-01T10:05:00.000Z"),
          shard(2, "2026-11-01T10:06:00.000Z", { result: "error", error: { code: "E_CONFLICT", message: "the repository changed" } }),
          shard(1, "2026-11-01T11:05:00.000Z", { rows: [{ image: "docker.io/lib/a:1", publicPath: "/lib/a:1", action: "keep", result: "ok" }] }),
        ],
      }),
    );
    expect(s.runs.map((r) => [r.shard?.index, r.finishedAt, r.result, r.error?.code])).toEqual([
      [2, "2026-11-01T10:06:00.000Z", "error", "E_CONFLICT"],
      [1, "2026-11-01T11:05:00.000Z", "ok", undefined],
    ]);
    expect(s.names.find((n) => n.path === "/lib/a:1")?.lastChecked).toBe("2026-11-01T11:05:00.000Z");
  });
});

describe("per-architecture names on the status page", () => {
  it("names them as the usual name, with their architecture, the host path and the platform of their image", async () => {
    const { assembleSite } = await import("../../src/status/assemble-site.js");
    const { PAGE_ASSETS } = await import("../../src/status/page-assets.js");
    const s = state();
    const dirArm = layout.imageDir(digest("config-arm"));
    s.images.set(hexOf("config-arm"), { hex: hexOf("config-arm"), dir: dirArm, metadata: metadata("config-arm", "manifest-arm", ["docker.io/lib/a:1"], { platform: "linux/arm64/v8", convertedAt: "2026-10-03T00:00:00.000Z" }) });
    s.tags.set("/.multiarch/arm64/lib/a:1", dirArm);
    s.tags.set("/.multiarch/amd64/lib/a:1", dirA);
    const status = StatusJson.parse(assembleStatus(input({ state: s })));
    expect(status.names.filter((n) => n.path.startsWith("/.multiarch/")).map((n) => [n.path, n.name, n.tag, n.perArch])).toEqual([
      ["/.multiarch/amd64/lib/a:1", "docker.io/lib/a:1", "1", { arch: "amd64", hostPath: "/.multiarch/host/lib/a:1", clientArch: "x86_64" }],
      ["/.multiarch/arm64/lib/a:1", "docker.io/lib/a:1", "1", { arch: "arm64", hostPath: "/.multiarch/host/lib/a:1", clientArch: "aarch64" }],
    ]);
    expect(status.names.find((n) => n.path === "/lib/a:1")?.perArch).toBeUndefined();

    const site = assembleSite(status, PAGE_ASSETS);
    const index = site.get("index.html") ?? "";
    const armRow = index.split("\n").find((l) => l.includes("/cvmfs/images.test.org/.multiarch/arm64/lib/a:1")) ?? "";
    expect(armRow).toContain(`docker.io/lib/a:1</a> <span class="mute">arm64</span><td>1<td>`);
    expect(armRow).toContain("<td>linux/arm64/v8<td>");
    const page = [...site].find(([k, v]) => k.startsWith("i/") && v.includes("/.multiarch/arm64/lib/a:1"))?.[1] ?? "";
    expect(page).toContain("<dt>Architecture</dt><dd>arm64: nodes whose <code>CVMFS_ARCH</code> is <code>aarch64</code> find it at <code>/cvmfs/images.test.org/.multiarch/host/lib/a:1</code></dd>");
    expect(page).toContain("apptainer exec /cvmfs/images.test.org/.multiarch/host/lib/a:1 cat /etc/os-release");
    expect(page).toContain("<dt>Platform</dt><dd>linux/arm64/v8</dd>");
  });
});
