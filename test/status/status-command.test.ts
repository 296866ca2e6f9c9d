/**
 * `sync --report` and `status` as users and the Pages job run them: the report's content and
 * schema, the site's files, status.json against its schema, the storage figures of a repository
 * whose two images share a base layer, `--previous` from a file and over HTTP (round trip), and
 * the mistakes that must stop a run (exit 2) or only warn.
 */
import { readFile, readdir, writeFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseManifest } from "../../src/cvmfs/repository/manifest.js";
import { RunReport } from "../../src/status/run-report.js";
import { StatusJson } from "../../src/status/status-json.js";
import { serveDirectory, type StaticServer } from "../support/chromium.js";
import { runCli } from "../support/run-cli.js";
import { REPO, SHARED_BYTES, makeStatusFixture, type StatusFixture } from "./status-fixture.js";

let fx: StatusFixture;
let files: StaticServer;

beforeAll(async () => {
  fx = await makeStatusFixture();
  files = await serveDirectory(fx.dir.path);
}, 60_000);

afterAll(async () => {
  await files?.close();
  await fx?.close();
});

const readJson = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, "utf8"));
const status = (...args: string[]) => runCli(["status", ...args, ...fx.common]);
const revision = async (): Promise<number> => parseManifest(await readFile(fx.dir.join("s0", ".cvmfspublished"))).manifest.revision;

describe("sync --report", () => {
  it("writes the rows, the failure with its code, message and wishlist line, the timings; valid against the schema", async () => {
    expect(fx.sync.code).toBe(1);
    const report = RunReport.parse(await readJson(fx.reportFile));
    const wishlist = fx.dir.join("images.txt");
    expect(report).toMatchObject({ version: 1, repository: REPO, owner: "sites/images", shard: null, wishlists: [wishlist], result: "failed", revision: await revision() });
    expect(report.summary).toEqual({ names: 3, ok: 3, failed: 1, skipped: 0, failedImages: 1 });
    expect(Date.parse(report.finishedAt) - Date.parse(report.startedAt)).toBe(Math.round(report.seconds * 1000));
    expect(report.rows.map((r) => [r.publicPath, r.action, r.result, r.origin?.line, r.origin?.text])).toEqual([
      ["/sites/app:1", "add", "ok", 2, fx.lines[0]],
      ["/sites/tool:1", "add", "ok", 3, fx.lines[1]],
      ["/sites/tool:latest", "add", "ok", 4, fx.lines[2]],
      [undefined, "resolve", "failed", 5, fx.lines[3]],
    ]);
    expect(report.rows[0]).toMatchObject({ digest: fx.images.app.manifestDigest, files: 21 });
    expect(report.rows[3]).toMatchObject({ image: fx.lines[3], origin: { file: wishlist }, error: { code: "E_REGISTRY", message: `resolve ${fx.lines[3]}: HTTP 404` } });
  });

  it("a run that ends in error still writes its report, with the error's code", async () => {
    const file = fx.dir.join("report-error.json");
    const run = await runCli(["sync", "--wishlist", fx.dir.join("images.txt"), "--layout", "flat", "--report", file, ...fx.common]);
    expect(run.code).toBe(2);
    const report = RunReport.parse(await readJson(file));
    expect(report).toMatchObject({ result: "error", rows: [], error: { code: "E_CONFIG", message: '--layout must be one of osg, osg-registry, ducc, got "flat"' } });
  });

  it("a report that cannot be written stops the run before it publishes (exit 2)", async () => {
    const before = await revision();
    const run = await runCli(["sync", "--wishlist", fx.dir.join("images.txt"), "--insecure-registry", fx.registry.host, "--report", fx.dir.join("no", "such", "dir", "r.json"), ...fx.common]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error \[E_CONFIG\]: --report .*r\.json: cannot write in .*no\/such\/dir \(ENOENT\)/);
    expect(await revision()).toBe(before);
  });
});

describe("status", () => {
  it("writes index.html (and its .gz), status.json valid against its schema, one page per image; figures that add up", async () => {
    const out = fx.dir.join("site");
    const run = await status("--out", out, "--report", fx.reportFile);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^wrote ${out}: 3 names, 2 images, 1 failure\\(s\\); index\\.html [\\d.]+ KiB, 4 files [\\d.]+ KiB; \\S+\\n$`));
    expect((await readdir(out)).sort()).toEqual(["i", "index.html", "index.html.gz", "status.json", "status.json.gz"]);
    const html = await readFile(`${out}/index.html`, "utf8");
    expect(gunzipSync(await readFile(`${out}/index.html.gz`)).toString("utf8")).toBe(html);
    const s = StatusJson.parse(await readJson(`${out}/status.json`));
    const app = fx.images.app.configDigest.slice(7);
    const tool = fx.images.tool.configDigest.slice(7);
    expect((await readdir(`${out}/i`)).sort()).toEqual([`${app.slice(0, 12)}.html`, `${tool.slice(0, 12)}.html`].sort());
    expect(s.repository).toMatchObject({ name: REPO, mountPath: `/cvmfs/${REPO}`, layout: "osg", revision: await revision(), images: 2, names: 3 });
    expect(s.names.map((n) => [n.path, n.name, n.tag, n.image, n.origin?.line, n.owners, n.failing])).toEqual([
      ["/sites/app:1", fx.lines[0], "1", app, 2, ["sites/images"], false],
      ["/sites/tool:1", fx.lines[1], "1", tool, 3, ["sites/images"], false],
      ["/sites/tool:latest", fx.lines[2], "latest", tool, 4, ["sites/images"], false],
    ]);
    const report = RunReport.parse(await readJson(fx.reportFile));
    expect(s.names.every((n) => n.lastChecked === report.finishedAt && n.publishedAt === report.finishedAt)).toBe(true);
    expect(s.failures).toEqual([
      { image: fx.lines[3], origin: { file: fx.dir.join("images.txt"), line: 5, text: fx.lines[3] }, code: "E_REGISTRY", message: `resolve ${fx.lines[3]}: HTTP 404`, since: report.startedAt, lastSeen: report.startedAt, shard: null },
    ]);
    // Both images hold the shared 300,000-byte file: stored once.
    const images = s.images.reduce((sum, i) => sum + i.bytes, 0);
    const { bytes, storedBytes, dedupSavedBytes } = s.repository;
    expect(bytes).toBeGreaterThanOrEqual(images);
    expect(dedupSavedBytes).toBe(bytes - storedBytes!);
    expect(dedupSavedBytes).toBeGreaterThanOrEqual(SHARED_BYTES);
    expect(storedBytes).toBeGreaterThanOrEqual(SHARED_BYTES);
    expect(storedBytes).toBeLessThan(images - SHARED_BYTES + 20_000);
    expect(s.images.find((i) => i.hex === app)?.config).toMatchObject({ entrypoint: ["/opt/app/run"], cmd: ["--serve", "port 8080"], workingDir: "/opt/app" });

    expect((await status("--out", fx.dir.join("site-skip"), "--skip-storage")).code).toBe(0);
    const skipped = StatusJson.parse(await readJson(fx.dir.join("site-skip", "status.json")));
    expect(skipped.repository).toMatchObject({ bytes: images, storedBytes: null, dedupSavedBytes: null });
    expect(skipped.runs).toEqual([]);
    expect(skipped.failures).toEqual([]);
  });

  it("round-trips through --previous, from a file and over HTTP: a failure keeps its first day, names their last check", async () => {
    const first = fx.dir.join("first");
    expect((await status("--out", first, "--report", fx.reportFile)).code).toBe(0);
    const s1 = StatusJson.parse(await readJson(`${first}/status.json`));
    // As if the failure had been there since the first of the year.
    const older = { ...s1, failures: s1.failures.map((f) => ({ ...f, since: "2026-01-01T00:00:00.000Z" })) };
    await writeFile(`${first}/status.json`, JSON.stringify(older));

    const sync2 = await runCli(["sync", "--wishlist", fx.dir.join("images.txt"), "--insecure-registry", fx.registry.host, "--owner", "sites/images", "--report", fx.dir.join("report-2.json"), ...fx.common]);
    expect(sync2.code).toBe(1);
    const report2 = RunReport.parse(await readJson(fx.dir.join("report-2.json")));
    expect(report2.rows.filter((r) => r.publicPath).map((r) => r.action)).toEqual(["keep", "keep", "keep"]);

    const overHttp = fx.dir.join("second");
    const run = await status("--out", overHttp, "--report", fx.dir.join("report-2.json"), "--previous", `${files.url}/first/status.json`);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/warn/);
    const s2 = StatusJson.parse(await readJson(`${overHttp}/status.json`));
    expect(s2.failures.map((f) => [f.image, f.since, f.lastSeen])).toEqual([[fx.lines[3], "2026-01-01T00:00:00.000Z", report2.startedAt]]);
    expect(await readFile(`${overHttp}/index.html`, "utf8")).toMatch(/<td>2026-01-01 00:00 <span class="mute">\(\d+ days\)<\/span><\/td>/);
    // Kept names: checked by the new run, still published when the first run published them.
    expect(s2.names.map((n) => [n.lastChecked, n.publishedAt])).toEqual(s1.names.map((n) => [report2.finishedAt, n.publishedAt]));

    // No report this time: the last check and the origin come from the previous page (a file).
    const third = fx.dir.join("third");
    expect((await status("--out", third, "--previous", `${overHttp}/status.json`)).code).toBe(0);
    const s3 = StatusJson.parse(await readJson(`${third}/status.json`));
    expect(s3.names.map((n) => [n.name, n.lastChecked, n.publishedAt, n.origin])).toEqual(s2.names.map((n) => [n.name, n.lastChecked, n.publishedAt, n.origin]));
  });

  it("a previous status that is missing, not JSON or of another version only warns", async () => {
    await writeFile(fx.dir.join("not-status.json"), JSON.stringify({ version: 99 }));
    for (const [previous, message] of [
      [`${files.url}/nothing-here/status.json`, /previous status .*: HTTP 404; starting without it/],
      [fx.dir.join("images.txt"), /is not JSON; starting without it/],
      [fx.dir.join("not-status.json"), /is not a status\.json of this version \(version: .*\); starting without it/],
    ] as const) {
      const run = await status("--out", fx.dir.join("site-warn"), "--previous", previous);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(message);
    }
  });

  it("reads the reports of CVMFS_IMAGE_SYNC_REPORT, space separated, as the Pages job passes them", async () => {
    const out = fx.dir.join("site-env");
    process.env["CVMFS_IMAGE_SYNC_REPORT"] = `${fx.reportFile} ${fx.dir.join("report-2.json")}`;
    try {
      expect((await status("--out", out)).code).toBe(0);
    } finally {
      delete process.env["CVMFS_IMAGE_SYNC_REPORT"];
    }
    const s = StatusJson.parse(await readJson(`${out}/status.json`));
    // Two reports of the same (unsharded) run: the newer one counts.
    const report2 = RunReport.parse(await readJson(fx.dir.join("report-2.json")));
    expect(s.runs.map((r) => r.startedAt)).toEqual([report2.startedAt]);
  });

  it("exits 2 naming the problem: no repository, a report that is not one, a report of another repository", async () => {
    const none = await runCli(["status", "--out", fx.dir.join("x"), "--stratum0", fx.dir.join("nowhere"), "--repo", REPO]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`no repository at ${fx.dir.join("nowhere")}`);
    const bad = await status("--out", fx.dir.join("x"), "--report", fx.dir.join("images.txt"));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`error [E_CONFIG]: run report ${fx.dir.join("images.txt")} is not JSON`);
    const other = fx.dir.join("other-report.json");
    await writeFile(other, JSON.stringify({ ...(await readJson(fx.reportFile) as object), repository: "images.other.org" }));
    const wrong = await status("--out", fx.dir.join("x"), "--report", other);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`run report ${other} is about images.other.org, not ${REPO}`);
  });
});
