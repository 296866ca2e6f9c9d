/**
 * Runs this project's real `.gitlab-ci.yml` (and the component it includes) with gitlab-ci-local
 * in shell mode, in a temp git repository that looks like a fork: the pipeline files copied from
 * the checkout, a wishlist, a `main` branch, and an `origin` remote whose URL points at the GitLab
 * API double (so CI_SERVER_URL is the double's). The jobs call the built CLI of this checkout.
 */
import { appendFile, copyFile, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { testdir, type Testdir } from "../support/testdir.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = join(ROOT, "bin/cvmfs-image-sync.js");
const GCL = join(ROOT, "node_modules/gitlab-ci-local/src/index.js");

/** A temp fork: `dir` is its work tree. */
export interface Fork {
  readonly dir: Testdir;
  /** Run git in the fork; returns stdout. */
  git(...args: string[]): Promise<string>;
  /** Write files (relative path → content) and commit them on the current branch; returns the sha. */
  commit(message: string, files: Record<string, string>): Promise<string>;
}

/** Create the fork with `images.txt` on `main`, `origin` pointing at `originUrl` (http://…/group/project.git). */
export async function makeFork(originUrl: string, wishlist: string): Promise<Fork> {
  const dir = await testdir({ "images.txt": wishlist }, "cis-fork-");
  await copyFile(join(ROOT, ".gitlab-ci.yml"), dir.join(".gitlab-ci.yml"));
  await mkdir(dir.join("templates"));
  await copyFile(join(ROOT, "templates/cvmfs-image-sync.yml"), dir.join("templates/cvmfs-image-sync.yml"));
  // gitlab-ci-local's own state, and what jobs leave behind, stay out of git.
  await writeFile(dir.join(".gitignore"), ".gitlab-ci-local/\n.cache/\n.npm/\nplan.json\ncvmfs-image-sync-report-*.json\npublic/\n");
  const git = async (...args: string[]): Promise<string> =>
    (await execa("git", ["-c", "user.name=Site Admin", "-c", "user.email=admin@site.example", ...args], { cwd: dir.path })).stdout.trim();
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-q", "-m", "Fork of cvmfs-image-sync");
  await git("remote", "add", "origin", originUrl);
  await git("update-ref", "refs/remotes/origin/main", "HEAD");
  await git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main");
  return {
    dir,
    git,
    async commit(message, files) {
      for (const [rel, content] of Object.entries(files)) await writeFile(dir.join(rel), content);
      await git("add", "-A");
      await git("commit", "-q", "-m", message);
      return git("rev-parse", "HEAD");
    },
  };
}

export interface PipelineRun {
  exitCode: number;
  /** gitlab-ci-local's combined output: every job's log lines, prefixed with the job name. */
  output: string;
}

/**
 * Run gitlab-ci-local in the fork with these CI/CD variables (plus extra arguments, e.g. `--list`).
 * `fileVariables` are CI/CD variables of type File, as GitLab makes TRIGGER_PAYLOAD: the job sees
 * the path of a file holding the value.
 */
export async function runPipeline(fork: Fork, variables: Record<string, string>, extra: string[] = [], fileVariables: Record<string, string> = {}): Promise<PipelineRun> {
  const args = [GCL, "--force-shell-executor", "--no-color", "--home", fork.dir.join(".gitlab-ci-local", "home"), "--max-job-name-padding", "0"];
  for (const [k, v] of Object.entries(variables)) args.push("--variable", `${k}=${v}`);
  if (Object.keys(fileVariables).length > 0) {
    // gitlab-ci-local's project variables file (JSON is YAML), kept in its own ignored state dir.
    const file = ".gitlab-ci-local/file-variables.yml";
    await mkdir(fork.dir.join(".gitlab-ci-local"), { recursive: true });
    await writeFile(fork.dir.join(file), JSON.stringify(Object.fromEntries(Object.entries(fileVariables).map(([k, v]) => [k, { type: "file", values: { "*": v } }]))));
    args.push("--variables-file", file);
  }
  const child: ResultPromise = execa(process.execPath, [...args, ...extra], {
    cwd: fork.dir.path,
    all: true,
    reject: false,
    // The jobs see the machine's environment the way a shell runner's jobs do, minus CI settings
    // of the machine running the tests.
    env: { ...cleanEnv(), GCL_IGNORE_PREDEFINED_VARS: "CI_PIPELINE_SOURCE,CI_SERVER_URL,CI_PROJECT_ID", FORCE_COLOR: "0" },
    extendEnv: false,
    timeout: 120_000,
  });
  const result = await child;
  // For reading what a site admin would see: CIS_PIPELINE_LOG=/path/file appends every run's log.
  if (process.env["CIS_PIPELINE_LOG"]) await appendFile(process.env["CIS_PIPELINE_LOG"], `\n=== ${extra.join(" ") || "pipeline"} ${JSON.stringify(variables["CI_PIPELINE_SOURCE"] ?? "push")}\n${String(result.all ?? "")}\n`);
  return { exitCode: result.exitCode ?? -1, output: String(result.all ?? "") };
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("CI") || k.startsWith("GITLAB") || k.startsWith("CVMFS_IMAGE_SYNC_") || k.startsWith("VITEST") || k === "NODE_OPTIONS") continue;
    env[k] = v;
  }
  return env;
}

/** The lines gitlab-ci-local printed for one job (`<job> > …` / `<job> $ …`). */
export function jobLog(output: string, job: string): string {
  return output
    .split("\n")
    .filter((l) => l.startsWith(`${job} `))
    .join("\n");
}

/** A running `serve` (dev gateway + stratum 0 over HTTP) from the built CLI. */
export interface ServeProcess {
  repoUrl: string;
  gatewayUrl: string;
  keyFile: string;
  keysDir: string;
  stop(): Promise<void>;
}

/** Start `cvmfs-image-sync serve --port 0` for `repo` in `dir`; resolves once it prints its URLs. */
export async function startServe(dir: Testdir, repo: string): Promise<ServeProcess> {
  const keysDir = dir.join("keys");
  const child = execa(process.execPath, [CLI, "serve", "--port", "0", "--repo", repo, "--stratum0", dir.join("stratum0"), "--keys-dir", keysDir, "--quiet"], {
    env: cleanEnv(),
    extendEnv: false,
    reject: false,
    buffer: false,
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => void (stderr += d.toString()));
  const line = await new Promise<string>((resolveLine, rejectLine) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolveLine(out.slice(0, nl));
    });
    void child.then(() => rejectLine(new Error(`serve exited: ${stderr}`)));
  });
  const m = /^serving (\S+) gateway (\S+)$/.exec(line);
  if (!m) throw new Error(`unexpected serve output: ${line}`);
  return {
    repoUrl: m[1]!,
    gatewayUrl: m[2]!,
    keyFile: join(keysDir, `${repo}.gw`),
    keysDir,
    async stop() {
      child.kill("SIGTERM");
      await child;
    },
  };
}
