/**
 * The pipeline for real: gitlab-ci-local runs .gitlab-ci.yml in shell mode against a real
 * registry, the dev gateway (`serve`) and the GitLab API double, for the three pipeline sources.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planNoteMarker } from "../../src/gitlab/plan-note.js";
import { pushImage, type PushedImage } from "../support/image-builder.js";
import { buildLayer } from "../support/layer-builder.js";
import { startRegistry, type TestRegistry } from "../support/registry.js";
import { cleanupTestdirs, testdir, type Testdir } from "../support/testdir.js";
import { serveDirectory } from "../support/chromium.js";
import { StatusJson } from "../../src/status/status-json.js";
import { startGitLabDouble, type GitLabDouble } from "./gitlab-double.js";
import { CLI, ROOT, jobLog, makeFork, runPipeline, startServe, type Fork, type ServeProcess } from "./pipeline-harness.js";

const REPO = "images.site.example";
let registry: TestRegistry;
let gitlab: GitLabDouble;
let serve: ServeProcess;
let work: Testdir;
let fork: Fork;
let variables: Record<string, string>;
const images: Record<string, PushedImage> = {};

async function push(name: string, content: string): Promise<PushedImage> {
  const layer = await buildLayer([
    { type: "dir", path: "opt" },
    { type: "file", path: "opt/release", content },
  ]);
  return pushImage(registry, name, { layers: [layer], config: { Cmd: ["/bin/sh"] } });
}

/** The CLI from this checkout, as a site admin would run it. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await execa(process.execPath, [CLI, ...args], { cwd: fork.dir.path, reject: false, env: { CI: "true" } });
  return { code: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** What the repository holds now for the fork's current images.txt, through `plan --format json`. */
async function publishedPlan(): Promise<{ tags: { action: string; publicPath: string; manifestDigest?: string; imageDir?: string }[]; imageRemovals: { imageDir: string; due: boolean }[] }> {
  const r = await cli("plan", "--format", "json", "--repo", REPO, "--repo-url", serve.repoUrl, "--insecure-registry", registry.host, "--quiet");
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Awaited<ReturnType<typeof publishedPlan>>;
}

async function verifyRepository(): Promise<void> {
  const r = await cli("verify", "--repo", REPO, "--repo-url", serve.repoUrl, "--keys-dir", serve.keysDir, "--quiet");
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/OK$/m);
}

const published = (): Promise<string> => readFile(join(work.path, "stratum0", ".cvmfspublished"), "latin1");

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) await execa("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT });
  work = await testdir({ "gitlab-token": "glpat-test-token\n" }, "cis-pipeline-");
  [registry, gitlab] = await Promise.all([startRegistry("anonymous"), startGitLabDouble("glpat-test-token")]);
  serve = await startServe(work, REPO);
  images["app:1"] = await push("sites/app:1", "app 1\n");
  images["tool:1"] = await push("sites/tool:1", "tool 1\n");
  images["extra:1"] = await push("sites/extra:1", "extra 1\n");
  fork = await makeFork(`${gitlab.url}/group/project.git`, `${registry.host}/sites/app:1\n${registry.host}/sites/tool:1\n`);
  variables = {
    CVMFS_IMAGE_SYNC_INSTALL: "true",
    CVMFS_IMAGE_SYNC_CLI: CLI,
    CVMFS_IMAGE_SYNC_REPO: REPO,
    CVMFS_IMAGE_SYNC_GATEWAY: serve.gatewayUrl,
    CVMFS_IMAGE_SYNC_GATEWAY_KEY: serve.keyFile,
    CVMFS_IMAGE_SYNC_REPO_URL: serve.repoUrl,
    CVMFS_IMAGE_SYNC_KEYS_DIR: serve.keysDir,
    CVMFS_IMAGE_SYNC_INSECURE_REGISTRY: registry.host,
    CVMFS_IMAGE_SYNC_GITLAB_TOKEN_FILE: work.join("gitlab-token"),
    CVMFS_IMAGE_SYNC_KEEP_REMOVED: "0",
    CVMFS_IMAGE_SYNC_VERIFY: "true",
  };
}, 120_000);

afterAll(async () => {
  await serve?.stop();
  await Promise.all([registry?.stop(), gitlab?.close()]);
  await cleanupTestdirs();
});

describe("the pipeline, run by gitlab-ci-local", { timeout: 150_000 }, () => {
  it("default branch: publishes the wishlist, then verify passes", async () => {
    const run = await runPipeline(fork, variables);
    expect(run.exitCode, run.output).toBe(0);
    expect(jobLog(run.output, "images:publish: [1/1]")).toMatch(/published revision \d+ in 3 commits; 0 failed/);
    expect(jobLog(run.output, "images:verify")).toMatch(/OK/);
    expect(jobLog(run.output, "images:check")).toBe("");
    const plan = await publishedPlan();
    expect(plan.tags.map((t) => [t.action, t.publicPath, t.manifestDigest])).toEqual([
      ["keep", "/sites/app:1", images["app:1"]!.manifestDigest],
      ["keep", "/sites/tool:1", images["tool:1"]!.manifestDigest],
    ]);
    await verifyRepository();
  });

  it("merge request: posts the plan as one note, updated by the next pipeline; publishes nothing", async () => {
    const before = await published();
    const base = await fork.git("rev-parse", "main");
    await fork.git("checkout", "-q", "-b", "add-extra");
    await fork.commit("Add extra", { "images.txt": `${registry.host}/sites/app:1\n${registry.host}/sites/tool:1\n${registry.host}/sites/extra:1\n` });
    const mr = { ...variables, CI_PIPELINE_SOURCE: "merge_request_event", CI_MERGE_REQUEST_IID: "7", CI_MERGE_REQUEST_DIFF_BASE_SHA: base };
    const first = await runPipeline(fork, mr);
    expect(first.exitCode, first.output).toBe(0);
    expect(jobLog(first.output, "images:check")).toMatch(/created note \d+ on merge request !7/);
    expect(jobLog(first.output, "images:publish: [1/1]")).toBe("");

    await fork.commit("Drop tool", { "images.txt": `${registry.host}/sites/app:1\n${registry.host}/sites/extra:1\n` });
    const second = await runPipeline(fork, mr);
    expect(second.exitCode, second.output).toBe(0);
    expect(jobLog(second.output, "images:check")).toMatch(/updated note \d+ on merge request !7/);

    const notes = gitlab.notes("1217", 7);
    expect(notes).toHaveLength(1);
    const body = notes[0]!.body;
    expect(body.startsWith(planNoteMarker(REPO))).toBe(true);
    expect(body).toContain(`| \`${registry.host}/sites/extra:1\` <sub>images.txt:2</sub> | add (convert) | \`${images["extra:1"]!.manifestDigest.slice(0, 19)}\` | new |`);
    expect(body).toContain(`| \`${registry.host}/sites/tool:1\` | remove | \`${images["tool:1"]!.manifestDigest.slice(0, 19)}\` |`);
    expect(gitlab.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      "GET /api/v4/projects/1217/merge_requests/7/notes 200",
      "POST /api/v4/projects/1217/merge_requests/7/notes 201",
      "GET /api/v4/projects/1217/merge_requests/7/notes 200",
      `PUT /api/v4/projects/1217/merge_requests/7/notes/${notes[0]!.id} 200`,
    ]);
    expect(await published()).toBe(before);
    await fork.git("checkout", "-q", "main");
  });

  it("merge request with a malformed line: the check fails naming file:line", async () => {
    const base = await fork.git("rev-parse", "main");
    await fork.git("checkout", "-q", "-b", "typo");
    await fork.commit("Typo", { "images.txt": `${registry.host}/sites/app:1\nSites/Tool:1 oops\n` });
    const calls = gitlab.calls.length;
    const run = await runPipeline(fork, { ...variables, CI_PIPELINE_SOURCE: "merge_request_event", CI_MERGE_REQUEST_IID: "8", CI_MERGE_REQUEST_DIFF_BASE_SHA: base });
    expect(run.exitCode).not.toBe(0);
    const log = jobLog(run.output, "images:check");
    expect(log).toMatch(/images\.txt:2: /);
    expect(log).toMatch(/E_WISHLIST/);
    expect(gitlab.calls.length).toBe(calls);
    await fork.git("checkout", "-q", "main");
  });

  it("schedule: moves a tag whose digest moved and removes a delisted image; verify passes", async () => {
    const before = await publishedPlan();
    const oldDir = (path: string): string => before.tags.find((t) => t.publicPath === path)!.imageDir!;
    const [oldApp, oldTool] = [oldDir("/sites/app:1"), oldDir("/sites/tool:1")];
    images["app:1"] = await push("sites/app:1", "app 1, rebuilt\n");
    await fork.commit("Drop tool", { "images.txt": `${registry.host}/sites/app:1\n` });
    const run = await runPipeline(fork, { ...variables, CI_PIPELINE_SOURCE: "schedule" });
    expect(run.exitCode, run.output).toBe(0);
    const log = jobLog(run.output, "images:publish: [1/1]");
    expect(log).toMatch(/sites\/app:1 +update +sha256:/);
    expect(log).toMatch(/sites\/tool:1 +remove /);
    expect(log).toContain(`removed ${oldTool}`);
    expect(jobLog(run.output, "images:verify")).toMatch(/OK/);
    const plan = await publishedPlan();
    expect(plan.tags.map((t) => [t.action, t.publicPath, t.manifestDigest])).toEqual([["keep", "/sites/app:1", images["app:1"]!.manifestDigest]]);
    // The tool's image went with its name. The image app:1 moved away from may stay until the
    // next run: sync keeps an image an update leaves while the new config was still unknown.
    expect(plan.tags[0]!.imageDir).not.toBe(oldApp);
    expect(plan.imageRemovals.map((r) => r.imageDir).filter((d) => d !== oldApp)).toEqual([]);
    await verifyRepository();
  });

  it("pages: after a publish with a failed image, the Pages job leaves public/index.html with the failure", async () => {
    // The Pages site as deployed so far: empty (first deployment), so the previous status is a 404.
    const deployed = await testdir({}, "cis-pages-");
    const pages = await serveDirectory(deployed.path);
    const own = await readFile(fork.dir.join(".gitlab-ci.yml"), "utf8");
    const wishlist = await readFile(fork.dir.join("images.txt"), "utf8");
    try {
      await fork.commit("Status page, and an image that does not exist", {
        ".gitlab-ci.yml": own.replace("pages: false", "pages: true"),
        "images.txt": `${registry.host}/sites/app:1\n${registry.host}/sites/gone:1\n`,
      });
      const run = await runPipeline(fork, { ...variables, CI_PIPELINE_SOURCE: "schedule", CI_PAGES_URL: `${pages.url}/` });
      expect(run.exitCode).not.toBe(0);
      expect(jobLog(run.output, "images:publish: [1/1]")).toMatch(/; 1 failed; /);
      const log = jobLog(run.output, "pages");
      // After publishing: the Pages job starts once the publish job has finished (and failed).
      expect(run.output.indexOf("\npages ")).toBeGreaterThan(run.output.search(/; 1 failed; /));
      expect(log).toMatch(/wrote \S*public: 1 names, \d+ images, 1 failure\(s\); index\.html/);
      expect(log).toMatch(/previous status http:\/\/127\.0\.0\.1:\d+\/status\.json: HTTP 404; starting without it/);
      expect(pages.requests).toEqual(["/status.json"]);
      const html = await readFile(fork.dir.join("public", "index.html"), "utf8");
      expect(html).toContain(`${registry.host}/sites/gone:1`);
      expect(html).toContain("<code>E_REGISTRY</code>");
      const status = StatusJson.parse(JSON.parse(await readFile(fork.dir.join("public", "status.json"), "utf8")));
      expect(status.names.map((n) => [n.path, n.origin])).toEqual([["/sites/app:1", { file: "images.txt", line: 1, text: `${registry.host}/sites/app:1` }]]);
      expect(status.failures.map((f) => [f.image, f.code, f.origin?.line])).toEqual([[`${registry.host}/sites/gone:1`, "E_REGISTRY", 2]]);
      expect(status.repository).toMatchObject({ name: REPO, revision: expect.any(Number) });
      // What GitLab deploys: the job's artifacts.
      expect(existsSync(join(fork.dir.path, ".gitlab-ci-local", "artifacts", "pages", "public", "index.html"))).toBe(true);
    } finally {
      await pages.close();
      // The next cases start from the fork as it was: Pages off, the wishlist of before.
      await fork.commit("Back to the plain pipeline", { ".gitlab-ci.yml": own, "images.txt": wishlist });
    }
  });

  it("trigger from a registry's webhook: images:event publishes the pushed tag only; no full sync", async () => {
    await fork.commit("Add tool back", { "images.txt": `${registry.host}/sites/app:1\n${registry.host}/sites/tool:1\n` });
    const before = await publishedPlan();
    const tool = before.tags.find((t) => t.publicPath === "/sites/tool:1");
    expect(tool?.action).toBe("add");
    images["app:1"] = await push("sites/app:1", "app 1, pushed again\n");
    // Harbor's default webhook for the push, as GitLab hands it on: its own keys mixed in.
    const payload = JSON.stringify({
      type: "PUSH_ARTIFACT",
      occur_at: 1767225600,
      operator: "ci-robot",
      event_data: {
        resources: [{ digest: images["app:1"]!.manifestDigest, tag: "1", resource_url: `${registry.host}/sites/app:1` }],
        repository: { name: "app", namespace: "sites", repo_full_name: "sites/app", repo_type: "private" },
      },
      id: "1217",
      ref: "main",
      variables: {},
    });
    const run = await runPipeline(fork, { ...variables, CI_PIPELINE_SOURCE: "trigger" }, [], { TRIGGER_PAYLOAD: payload });
    expect(run.exitCode, run.output).toBe(0);
    const log = jobLog(run.output, "images:event");
    expect(log).toContain(`Harbor webhook: syncing ${registry.host}/sites/app:1`);
    expect(log).toMatch(/sites\/app:1 +update +sha256:/);
    expect(log).toMatch(/published revision \d+ in 2 commits; 0 failed/);
    expect(jobLog(run.output, "images:publish: [1/1]")).toBe("");
    expect(jobLog(run.output, "images:verify")).toBe("");
    // Only the pushed tag moved: tool:1, back on the list, waits for the next full sync.
    const after = await publishedPlan();
    expect(after.tags.map((t) => [t.action, t.publicPath, t.manifestDigest])).toEqual([
      ["keep", "/sites/app:1", images["app:1"]!.manifestDigest],
      ["add", "/sites/tool:1", images["tool:1"]!.manifestDigest],
    ]);
    await verifyRepository();
  });
});
