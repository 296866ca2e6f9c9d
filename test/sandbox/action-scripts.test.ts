import { spawnSync } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXEC_ACTION, RUN_ACTION, SHELL_ACTION, TEST_ACTION } from "../../src/sandbox/action-scripts.js";
import { assembleApptainerFiles } from "../../src/sandbox/apptainer-files.js";
import { cleanupTestdirs, testdir, type Testdir } from "../support/testdir.js";

/**
 * The action scripts run under the real /bin/sh against a `.singularity.d` written to a temp dir:
 * the absolute `/.singularity.d` in the scripts is pointed there, nothing else changes.
 */
let dir: Testdir;
const relocate = (script: string): string => script.replaceAll("/.singularity.d/", `${dir.path}/.singularity.d/`);

beforeAll(async () => {
  dir = await testdir();
  const files = assembleApptainerFiles({
    config: { config: { Env: ["PATH=/image/bin:/usr/bin:/bin", "IMAGE_VAR=from image"], Entrypoint: ["/usr/bin/env", "-0"] } },
    reference: "x/y:1",
    manifestDigest: "sha256:00",
    buildDate: new Date(0),
  });
  for (const f of files.filter((x) => x.type === "file" && x.path.startsWith("/.singularity.d/"))) {
    const p = dir.join(f.path);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, relocate(String(f.content)));
    await chmod(p, f.mode);
  }
  await writeFile(dir.join("fake-shell"), "#!/bin/sh\nprintf 'shell:%s\\n' \"$@\"\n");
  await chmod(dir.join("fake-shell"), 0o755);
});
afterAll(cleanupTestdirs);

function action(script: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync("/bin/sh", ["-c", relocate(script), "action", ...args], {
    encoding: "utf8",
    env: { PATH: "/host/bin:/usr/bin:/bin", PS1: "", ...env },
  });
}

function parseEnv(out: string): Record<string, string> {
  return Object.fromEntries(
    out
      .split("\0")
      .filter((e) => e !== "")
      .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
}

describe("action scripts", () => {
  it("exec sources the environment scripts in order, then execs the command", () => {
    const r = action(EXEC_ACTION, ["/usr/bin/env", "-0"], { IMAGE_VAR: "from caller", SING_USER_DEFINED_APPEND_PATH: "/extra" });
    expect(r.status).toBe(0);
    expect(parseEnv(r.stdout)).toMatchObject({
      PATH: "/image/bin:/usr/bin:/bin:/extra",
      IMAGE_VAR: "from caller",
      LD_LIBRARY_PATH: `${dir.path}/.singularity.d/libs`, // relocated like every other path
      PS1: "Apptainer> ",
    });
  });

  it("run execs the runscript with the caller's arguments", () => {
    const r = action(RUN_ACTION, []);
    expect(r.status).toBe(0);
    expect(parseEnv(r.stdout)).toMatchObject({ PATH: "/image/bin:/usr/bin:/bin", IMAGE_VAR: "from image" });
  });

  it("run and test report a missing app the way Apptainer does", () => {
    const run = action(RUN_ACTION, [], { SINGULARITY_APPNAME: "nope" });
    expect([run.status, run.stdout]).toEqual([1, "Could not locate the container application: nope\n"]);
  });

  it("test falls back to /bin/sh -c true without a test script", () => {
    const r = action(TEST_ACTION, []);
    expect([r.status, r.stdout]).toEqual([0, "No test found in container, executing /bin/sh -c true\n"]);
  });

  it("shell runs $SINGULARITY_SHELL, word-split, with the arguments", () => {
    const r = action(SHELL_ACTION, ["a b"], { SINGULARITY_SHELL: dir.join("fake-shell") });
    expect([r.status, r.stdout]).toEqual([0, "shell:a b\n"]);
  });
});
