import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { cleanupTestdirs } from "../support/testdir.js";
import { makeFork, ROOT, runPipeline, type Fork } from "./pipeline-harness.js";

let fork: Fork;
let publishScript = "";
let preview: Record<string, Record<string, unknown>> = {};
beforeAll(async () => {
  fork = await makeFork("http://127.0.0.1:9/group/project.git", "docker.io/library/alpine:3\n");
  await fork.git("checkout", "-q", "-b", "docs-only");
  await fork.commit("Docs", { "NOTES.md": "hello\n" });
  await fork.git("checkout", "-q", "-b", "add-image", "main");
  await fork.commit("Add an image", { "images.txt": "docker.io/library/alpine:3\ndocker.io/library/debian:12\n" });
  await fork.git("checkout", "-q", "main");
  // --preview: the configuration as GitLab sees it, with includes, inputs and extends expanded.
  const run = await runPipeline(fork, {}, ["--preview"]);
  expect(run.exitCode, run.output).toBe(0);
  preview = parse(run.output.slice(Math.max(0, run.output.indexOf("---")))) as typeof preview;
  publishScript = (preview["images:publish"]!["script"] as string[]).join("\n");
}, 60_000);
afterAll(cleanupTestdirs);

type Listed = { name: string; when: string; stage: string };
async function listed(branch: string, variables: Record<string, string>): Promise<Record<string, string>> {
  await fork.git("checkout", "-q", branch);
  const run = await runPipeline(fork, variables, ["--list-json"]);
  expect(run.exitCode, run.output).toBe(0);
  const json = JSON.parse(run.output.slice(run.output.indexOf("["))) as Listed[];
  return Object.fromEntries(json.map((j) => [j.name, `${j.stage}:${j.when}`]));
}

/** Which jobs each pipeline source gets: what a reviewer expects from the issue. */
const table: [string, string, Record<string, string>, Record<string, string>][] = [
  ["push to the default branch", "main", {}, { "images:check": "test:never", "images:publish: [1/1]": "deploy:on_success", "images:verify": "deploy:never", "images:event": "deploy:never" }],
  ["push to the default branch, verify on", "main", { CVMFS_IMAGE_SYNC_VERIFY: "true" }, { "images:check": "test:never", "images:publish: [1/1]": "deploy:on_success", "images:verify": "deploy:on_success", "images:event": "deploy:never" }],
  ["schedule", "main", { CI_PIPELINE_SOURCE: "schedule" }, { "images:check": "test:never", "images:publish: [1/1]": "deploy:on_success", "images:verify": "deploy:never", "images:event": "deploy:never" }],
  ["merge request changing the wishlist", "add-image", { CI_PIPELINE_SOURCE: "merge_request_event" }, { "images:check": "test:on_success", "images:publish: [1/1]": "deploy:never", "images:verify": "deploy:never", "images:event": "deploy:never" }],
  ["merge request not touching the wishlist", "docs-only", { CI_PIPELINE_SOURCE: "merge_request_event" }, { "images:check": "test:never", "images:publish: [1/1]": "deploy:never", "images:verify": "deploy:never", "images:event": "deploy:never" }],
  ["registry webhook trigger on the default branch", "main", { CI_PIPELINE_SOURCE: "trigger" }, { "images:check": "test:never", "images:publish: [1/1]": "deploy:never", "images:verify": "deploy:never", "images:event": "deploy:on_success" }],
  ["registry webhook trigger on the default branch, verify on", "main", { CI_PIPELINE_SOURCE: "trigger", CVMFS_IMAGE_SYNC_VERIFY: "true" }, { "images:check": "test:never", "images:publish: [1/1]": "deploy:never", "images:verify": "deploy:never", "images:event": "deploy:on_success" }],
  ["registry webhook trigger on another branch", "add-image", { CI_PIPELINE_SOURCE: "trigger" }, { "images:check": "test:never", "images:publish: [1/1]": "deploy:never", "images:verify": "deploy:never", "images:event": "deploy:never" }],
  ["push to another branch", "add-image", {}, { "images:check": "test:never", "images:publish: [1/1]": "deploy:never", "images:verify": "deploy:never", "images:event": "deploy:never" }],
];

describe(".gitlab-ci.yml under gitlab-ci-local", { timeout: 90_000 }, () => {
  for (const [name, branch, variables, expected] of table) {
    it(`lists the jobs of a ${name}`, async () => {
      // The Pages job is there, off: its input defaults to false.
      expect(await listed(branch, variables)).toEqual({ pages: "deploy:never", ...expected });
    });
  }

  it("with the input pages: true, the Pages job follows every publish, also a failed one", async () => {
    await fork.git("checkout", "-q", "main");
    const own = await readFile(fork.dir.join(".gitlab-ci.yml"), "utf8");
    await writeFile(fork.dir.join(".gitlab-ci.yml"), own.replace("pages: false", "pages: true"));
    try {
      const pages = async (branch: string, variables: Record<string, string>): Promise<string | undefined> => (await listed(branch, variables))["pages"];
      expect(await pages("main", {})).toBe("deploy:always");
      expect(await pages("main", { CI_PIPELINE_SOURCE: "schedule" })).toBe("deploy:always");
      expect(await pages("add-image", { CI_PIPELINE_SOURCE: "merge_request_event" })).toBe("deploy:never");
      expect(await pages("main", { CI_PIPELINE_SOURCE: "trigger" })).toBe("deploy:never");
      expect(await pages("add-image", {})).toBe("deploy:never");
    } finally {
      await fork.git("checkout", "-q", "main");
      await writeFile(fork.dir.join(".gitlab-ci.yml"), own);
    }
  });

  it("passes GitLab's CI JSON schema, which does catch a broken file", async () => {
    await fork.git("checkout", "-q", "main");
    const ok = await runPipeline(fork, {}, ["--list"]);
    expect(ok.output).toMatch(/json schema validated/);
    const template = fork.dir.join("templates/cvmfs-image-sync.yml");
    const good = await readFile(template, "utf8");
    await writeFile(template, good.replace("interruptible: false", "interruptible: sometimes"));
    const bad = await runPipeline(fork, {}, ["--list"]);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.output).toMatch(/interruptible/);
    await writeFile(template, good);
  });

  it("publishes under a resource group, keeps the layer cache, and execs the CLI", async () => {
    const doc = preview;
    const publish = doc["images:publish"]!;
    expect(publish["resource_group"]).toBe("cvmfs-image-sync-$CI_NODE_INDEX");
    expect(publish["parallel"]).toBe(1);
    expect(publish["interruptible"]).toBe(false);
    expect(JSON.stringify(publish["cache"])).toContain(".cache/cvmfs-image-sync/");
    const script = publishScript.trim().split("\n");
    expect(script.at(-1)).toBe('exec node "$CVMFS_IMAGE_SYNC_CLI" sync "$@"');
    expect((doc["images:check"]!["script"] as string[])[0]).toBe('node "$CVMFS_IMAGE_SYNC_CLI" plan --offline');
    const event = doc["images:event"]!;
    expect(event["resource_group"]).toBe("cvmfs-image-sync-1");
    expect(event["interruptible"]).toBe(false);
    expect((event["script"] as string[]).join("\n").trim().split("\n").at(-1)).toBe('exec node "$CVMFS_IMAGE_SYNC_CLI" sync --event "${TRIGGER_PAYLOAD:-}"');
    for (const job of ["images:check", "images:publish", "images:verify", "images:event", "pages"]) {
      expect(doc[job]!["image"]).toEqual({ name: "node:20" });
      expect(JSON.stringify(doc[job])).not.toMatch(/privileged|docker:dind|apptainer/);
    }
  });

  it("another project includes the jobs as a CI/CD component, with inputs", async () => {
    await fork.git("checkout", "-q", "main");
    const sha = await fork.git("rev-parse", "HEAD");
    const own = await readFile(fork.dir.join(".gitlab-ci.yml"), "utf8");
    await writeFile(
      fork.dir.join(".gitlab-ci.yml"),
      `include:\n  - component: $CI_SERVER_FQDN/group/project/cvmfs-image-sync@${sha}\n    inputs:\n      shards: 3\n      stage-publish: publish\n      resource-group: cvmfs-images-site\nstages: [test, publish]\n`,
    );
    try {
      const run = await runPipeline(fork, {}, ["--list-json"]);
      expect(run.exitCode, run.output).toBe(0);
      const jobs = JSON.parse(run.output.slice(run.output.indexOf("["))) as Listed[];
      expect(jobs.filter((j) => j.when !== "never").map((j) => `${j.name} ${j.stage}`)).toEqual([
        "images:publish: [1/3] publish",
        "images:publish: [2/3] publish",
        "images:publish: [3/3] publish",
      ]);
    } finally {
      await writeFile(fork.dir.join(".gitlab-ci.yml"), own);
    }
  });

  it("the component file is the one .gitlab-ci.yml includes", async () => {
    const ci = await readFile(`${ROOT}/.gitlab-ci.yml`, "utf8");
    expect(ci).toMatch(/- local: templates\/cvmfs-image-sync\.yml/);
    const component = await readFile(`${ROOT}/templates/cvmfs-image-sync.yml`, "utf8");
    const header = parse(component.split(/^---$/m)[0]!) as { spec: { inputs: Record<string, { default: unknown }> } };
    expect(Object.keys(header.spec.inputs).sort()).toEqual(["cli", "image", "install", "pages", "resource-group", "shards", "stage-check", "stage-publish", "wishlist-files"]);
    for (const input of Object.values(header.spec.inputs)) expect(input.default).toBeDefined();
  });

  /** Run the publish job's script the way a runner does (one bash), with a stub in place of the CLI. */
  async function runScript(env: Record<string, string>, signal?: NodeJS.Signals, script = publishScript): Promise<{ code: number | null; out: string; shellPid: number }> {
    const stub = fork.dir.join("stub-cli.js");
    await writeFile(
      stub,
      'process.on("SIGTERM", () => { console.log("SIGTERM"); process.exit(143); });\n' +
        'console.log(`ready ${process.pid} ${process.argv.slice(2).join(" ")}`);\n' +
        'if (process.argv[2] === "sync") setInterval(() => {}, 1000);\n',
    );
    const child = spawn("bash", ["-eo", "pipefail", "-c", script], { cwd: fork.dir.path, env: { PATH: process.env["PATH"] ?? "", CVMFS_IMAGE_SYNC_CLI: stub, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    if (signal) {
      while (!out.includes("ready")) await new Promise((r) => setTimeout(r, 20));
      child.kill(signal);
    }
    return { code: await exited, out, shellPid: child.pid! };
  }

  it("the publish script execs the CLI: the job's own process gets GitLab's SIGTERM", async () => {
    const one = await runScript({ CVMFS_IMAGE_SYNC_GATEWAY: "http://gw", CI_NODE_INDEX: "1", CI_NODE_TOTAL: "1" }, "SIGTERM");
    // Same pid: the shell was replaced by the CLI, so nothing stands between the signal and it.
    expect(one.out).toContain(`ready ${one.shellPid} sync --report cvmfs-image-sync-report-1.json\n`);
    expect(one.out).toContain("SIGTERM");
    expect(one.code).toBe(143);
    const shard = await runScript({ CVMFS_IMAGE_SYNC_GATEWAY: "http://gw", CI_NODE_INDEX: "2", CI_NODE_TOTAL: "3" }, "SIGTERM");
    expect(shard.out).toContain(`ready ${shard.shellPid} sync --shard 2/3 --report cvmfs-image-sync-report-2.json\n`);
    const unset = await runScript({});
    expect(unset.code).toBe(2);
    expect(unset.out).toMatch(/Set CVMFS_IMAGE_SYNC_GATEWAY/);
  });

  it("the check posts the note only when a GitLab token is configured", async () => {
    const check = (preview["images:check"]!["script"] as string[]).join("\n");
    const base = { CI_MERGE_REQUEST_DIFF_BASE_SHA: "abc123" };
    const without = await runScript(base, undefined, check);
    expect(without.code).toBe(0);
    expect(without.out.match(/ready \d+ .*/g)?.map((l) => l.replace(/^ready \d+ /, ""))).toEqual(["plan --offline"]);
    // The second plan's output is the note's input, plan.json (kept as an artifact).
    expect(await readFile(fork.dir.join("plan.json"), "utf8")).toMatch(/^ready \d+ plan --base abc123 --format json\n$/);
    expect(without.out).toMatch(/CVMFS_IMAGE_SYNC_GITLAB_TOKEN_FILE is not set: plan not posted/);
    const withToken = await runScript({ ...base, CVMFS_IMAGE_SYNC_GITLAB_TOKEN_FILE: "/run/token" }, undefined, check);
    expect(withToken.out.match(/ready \d+ .*/g)?.at(-1)).toMatch(/ mr-note plan\.json$/);
  });
});
