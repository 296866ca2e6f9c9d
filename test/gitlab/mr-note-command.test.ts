import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { planNoteMarker } from "../../src/gitlab/plan-note.js";
import { cleanupTestdirs, testdir, type Testdir } from "../support/testdir.js";
import { startGitLabDouble, type GitLabDouble } from "./gitlab-double.js";
import { samplePlan } from "./plan-fixture.js";

let gitlab: GitLabDouble;
let dir: Testdir;
beforeAll(async () => {
  gitlab = await startGitLabDouble();
  dir = await testdir({ "plan.json": JSON.stringify(samplePlan()), "token": `${"glpat-test-token"}\n`, "bad.json": "{\"tags\": 3}" });
});
afterAll(async () => {
  await gitlab.close();
  await cleanupTestdirs();
});

async function cli(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  // commander reads option defaults from process.env itself, so the variables go there for the call.
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith("CI_") || k.startsWith("CVMFS_IMAGE_SYNC_") || k === "GITLAB_TOKEN") delete process.env[k];
  Object.assign(process.env, env);
  try {
    const code = await main(argv, { stdout, stderr, env: process.env, signal: new AbortController().signal });
    return { code, stdout: out, stderr: err };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe("mr-note command", () => {
  it("reads CI variables and the token file, posts once, then updates the same note", async () => {
    const env = {
      CI_SERVER_URL: gitlab.url,
      CI_PROJECT_ID: "42",
      CI_MERGE_REQUEST_IID: "3",
      CI_PIPELINE_URL: "https://gl.example/p/9",
      CVMFS_IMAGE_SYNC_GITLAB_TOKEN_FILE: dir.join("token"),
      CVMFS_IMAGE_SYNC_REPO: "images.example.org",
    };
    const first = await cli(["mr-note", dir.join("plan.json")], env);
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toBe("created note 100 on merge request !3\n");
    const plan = samplePlan();
    plan.tags = plan.tags.filter((t) => t.action !== "remove");
    await import("node:fs/promises").then((fs) => fs.writeFile(dir.join("plan.json"), JSON.stringify(plan)));
    const second = await cli(["mr-note", dir.join("plan.json")], { ...env, GITLAB_TOKEN: "ignored-when-file-given" });
    expect(second.stdout).toBe("updated note 100 on merge request !3\n");
    const notes = gitlab.notes("42", 3);
    expect(notes).toHaveLength(1);
    expect(notes[0]!.body.startsWith(planNoteMarker("images.example.org"))).toBe(true);
    expect(notes[0]!.body).not.toContain("ns/old:1` | remove");
    expect(gitlab.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "GET /api/v4/projects/42/merge_requests/3/notes",
      "POST /api/v4/projects/42/merge_requests/3/notes",
      "GET /api/v4/projects/42/merge_requests/3/notes",
      "PUT /api/v4/projects/42/merge_requests/3/notes/100",
    ]);
    expect(first.stderr + second.stderr).not.toContain("glpat-test-token");
  });

  const bad: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    ["NoToken", ["plan.json"], { CI_SERVER_URL: "http://127.0.0.1:1", CI_PROJECT_ID: "1", CI_MERGE_REQUEST_IID: "1" }, /no GitLab token/],
    ["NoMergeRequest", ["plan.json"], { CI_SERVER_URL: "http://127.0.0.1:1", CI_PROJECT_ID: "1", GITLAB_TOKEN: "t" }, /needs --merge-request/],
    ["NotAPlan", ["bad.json"], { CI_SERVER_URL: "http://127.0.0.1:1", CI_PROJECT_ID: "1", CI_MERGE_REQUEST_IID: "1", GITLAB_TOKEN: "t" }, /is not a plan/],
    ["MissingFile", ["nope.json"], { CI_SERVER_URL: "http://127.0.0.1:1", CI_PROJECT_ID: "1", CI_MERGE_REQUEST_IID: "1", GITLAB_TOKEN: "t" }, /cannot read \(ENOENT\)/],
  ];
  for (const [name, args, env, message] of bad) {
    it(`exits 2 on bad input: ${name}`, async () => {
      const from = gitlab.calls.length;
      const r = await cli(["mr-note", ...args.map((a) => dir.join(a))], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/error \[E_CONFIG\]/);
      expect(r.stderr).toMatch(message);
      expect(gitlab.calls.length).toBe(from);
    });
  }
});
