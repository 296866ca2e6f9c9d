import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  APPS_SCRIPT,
  BASE_FINAL_SCRIPT,
  RUNTIME_VARS_SCRIPT,
  renderDockerEnvScript,
} from "../../src/sandbox/env-scripts.js";
import { cleanupTestdirs, testdir, type Testdir } from "../support/testdir.js";

let dir: Testdir;
beforeAll(async () => {
  dir = await testdir();
});
afterAll(cleanupTestdirs);

/** Source the scripts in order with the real /bin/sh, starting from `env`; return the exported environment. */
async function sourced(scripts: string[], env: Record<string, string>): Promise<Record<string, string>> {
  const paths: string[] = [];
  for (const [i, s] of scripts.entries()) {
    const p = dir.join(`env-${Date.now()}-${i}.sh`);
    await writeFile(p, s);
    paths.push(p);
  }
  const r = spawnSync("/bin/sh", ["-c", 'for f in "$@"; do . "$f"; done; /usr/bin/env -0', "sh", ...paths], { env, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const out: Record<string, string> = {};
  for (const entry of r.stdout.split("\0").filter((e) => e !== "")) {
    const eq = entry.indexOf("=");
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

describe("renderDockerEnvScript", () => {
  const env = [
    "PATH=/opt/app/bin:/usr/local/bin:/usr/bin:/bin",
    "PLAIN=value",
    "EQUALS=a=b=c",
    `QUOTES=say "hi" it's`,
    "DOLLAR=$HOME/x ${Y}",
    "BACKSLASH=c:\\path\\n",
    "BACKTICK=`id`",
    "NEWLINE=line1\nline2",
    "BRACE=a}b",
    "EMPTY=",
    "NOVALUE",
    "PRESET=image-default",
    "1BAD=x",
    "WITH-DASH=x",
    "=nameless",
    "",
  ];

  it("writes one export per valid entry in Apptainer's exact form", () => {
    expect(renderDockerEnvScript(env)).toBe(
      [
        "#!/bin/sh",
        'export PATH="/opt/app/bin:/usr/local/bin:/usr/bin:/bin"',
        'export PLAIN="${PLAIN:-"value"}"',
        'export EQUALS="${EQUALS:-"a=b=c"}"',
        `export QUOTES="\${QUOTES:-"say \\"hi\\" it's"}"`,
        'export DOLLAR="${DOLLAR:-"\\$HOME/x \\${Y}"}"',
        'export BACKSLASH="${BACKSLASH:-"c:\\\\path\\\\n"}"',
        'export BACKTICK="${BACKTICK:-"\\`id\\`"}"',
        'export NEWLINE="${NEWLINE:-"line1\nline2"}"',
        'export BRACE="${BRACE:-"a}b"}"',
        'export EMPTY="${EMPTY:-""}"',
        'export NOVALUE="${NOVALUE:-}"',
        'export PRESET="${PRESET:-"image-default"}"',
        "",
      ].join("\n"),
    );
  });

  it("gives exactly the image's values when sourced; PATH is forced, others are defaults", async () => {
    const got = await sourced([renderDockerEnvScript(env)], {
      PATH: "/host/bin:/usr/bin:/bin",
      HOME: "/home/someone",
      PRESET: "from-caller",
      NOVALUE: "kept",
    });
    expect(got).toMatchObject({
      PATH: "/opt/app/bin:/usr/local/bin:/usr/bin:/bin",
      PLAIN: "value",
      EQUALS: "a=b=c",
      QUOTES: `say "hi" it's`,
      DOLLAR: "$HOME/x ${Y}",
      BACKSLASH: "c:\\path\\n",
      BACKTICK: "`id`",
      NEWLINE: "line1\nline2",
      BRACE: "a}b",
      EMPTY: "",
      NOVALUE: "kept",
      PRESET: "from-caller",
    });
    expect(Object.keys(got)).not.toContain("WITH-DASH");
  });

  it("an entry without a value is exported empty when the caller has none", async () => {
    const got = await sourced([renderDockerEnvScript(["NOVALUE"])], { PATH: "/usr/bin:/bin" });
    expect(got.NOVALUE).toBe("");
  });

  it("no Env at all gives just the interpreter line", () => {
    expect(renderDockerEnvScript(undefined)).toBe("#!/bin/sh\n");
    expect(renderDockerEnvScript([])).toBe("#!/bin/sh\n");
  });
});

describe("static environment scripts", () => {
  it("99-runtimevars applies requested PATH changes after the image's PATH, then forgets them", async () => {
    const image = renderDockerEnvScript(["PATH=/image/bin"]);
    const both = await sourced([image, RUNTIME_VARS_SCRIPT], {
      SING_USER_DEFINED_PREPEND_PATH: "/pre",
      SING_USER_DEFINED_APPEND_PATH: "/post",
    });
    expect(both.PATH).toBe("/pre:/image/bin:/post");
    expect(Object.keys(both).filter((k) => k.startsWith("SING_USER"))).toEqual([]);
    const replaced = await sourced([image, RUNTIME_VARS_SCRIPT], { SING_USER_DEFINED_PATH: "/only" });
    expect(replaced.PATH).toBe("/only");
  });

  it("99-base appends /.singularity.d/libs to LD_LIBRARY_PATH and defaults PS1", async () => {
    // dash gives PS1 a default of its own unless the environment sets it, even to empty
    expect(await sourced([BASE_FINAL_SCRIPT], { PATH: "/usr/bin:/bin", PS1: "" })).toMatchObject({
      LD_LIBRARY_PATH: "/.singularity.d/libs",
      PS1: "Apptainer> ",
    });
    expect(await sourced([BASE_FINAL_SCRIPT], { PATH: "/usr/bin:/bin", LD_LIBRARY_PATH: "/opt/lib", PS1: "$ " })).toMatchObject({
      LD_LIBRARY_PATH: "/opt/lib:/.singularity.d/libs",
      PS1: "$ ",
    });
  });

  it("95-apps does nothing without an app and fails for an app the image lacks", async () => {
    const none = await sourced([APPS_SCRIPT], { PATH: "/usr/bin:/bin" });
    expect(none.PATH).toBe("/usr/bin:/bin");
    const p = dir.join("apps.sh");
    await writeFile(p, APPS_SCRIPT);
    const r = spawnSync("/bin/sh", ["-c", '. "$1"', "sh", p], {
      env: { PATH: "/usr/bin:/bin", SINGULARITY_APPNAME: "no-such-app-here" },
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("Could not locate the container application: no-such-app-here\n");
  });
});
