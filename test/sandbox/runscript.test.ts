import { spawnSync } from "node:child_process";
import { chmod, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderRunscript } from "../../src/sandbox/runscript.js";
import { argsQuoted, escapeDoubleQuoted, escapeSingleQuotes } from "../../src/sandbox/shell-escape.js";
import { cleanupTestdirs, testdir, type Testdir } from "../support/testdir.js";

/**
 * The runscript runs under the real /bin/sh; `show` (first on PATH) prints the argv it was exec'd
 * with, NUL-separated, so each case asserts exactly what the container process would receive.
 */
let dir: Testdir;

beforeAll(async () => {
  dir = await testdir();
  await writeFile(dir.join("show"), "#!/bin/sh\nprintf '%s\\0' \"$@\"\n");
  await chmod(dir.join("show"), 0o755);
});
afterAll(cleanupTestdirs);

interface Run {
  status: number | null;
  argv: string[];
  stdout: string;
}

let seq = 0;
async function run(ep: string[] | null, cmd: string[] | null, args: string[], noEval = false): Promise<Run> {
  const script = dir.join(`runscript-${seq++}`);
  await writeFile(script, renderRunscript(ep, cmd), { mode: 0o755 });
  const r = spawnSync("/bin/sh", [script, ...args], {
    cwd: dir.path,
    encoding: "utf8",
    env: { PATH: `${dir.path}:/usr/bin:/bin`, HOME: "/home/someone", ...(noEval ? { SINGULARITY_NO_EVAL: "1" } : {}) },
  });
  const argv = r.stdout.endsWith("\0") ? r.stdout.slice(0, -1).split("\0") : [];
  return { status: r.status, argv, stdout: r.stdout };
}

const tricky = ["a b", "it's", 'say "hi"', "$HOME", "back\\slash", "two\\\\slashes", "multi\nline", "`id`", "$(id)", "*", "", "tab\there", "${X:-d}", "-n"];

describe("renderRunscript", () => {
  const cases: Array<{ name: string; ep: string[] | null; cmd: string[] | null; args: string[]; want: string[]; noEvalWant?: string[] }> = [
    { name: "Entrypoint only, no args", ep: ["show", "a b"], cmd: null, args: [], want: ["a b"] },
    { name: "Entrypoint only, args appended", ep: ["show", "a b"], cmd: [], args: ["x", "y z"], want: ["a b", "x", "y z"] },
    { name: "Cmd only, no args", ep: null, cmd: ["show", "c d"], args: [], want: ["c d"] },
    { name: "Cmd only, args replace it", ep: [], cmd: ["show", "c"], args: ["show", "q r"], want: ["q r"] },
    { name: "both, no args: Cmd is the default", ep: ["show", "--flag"], cmd: ["default arg"], args: [], want: ["--flag", "default arg"] },
    { name: "both, args replace Cmd", ep: ["show", "--flag"], cmd: ["default arg"], args: ["u", "v w"], want: ["--flag", "u", "v w"] },
    { name: "neither, args are the command", ep: null, cmd: null, args: ["show", "z"], want: ["z"] },
    { name: "config words stay literal", ep: ["show", ...tricky], cmd: tricky, args: [], want: [...tricky, ...tricky] },
    {
      name: "caller args are evaluated (Apptainer's default), literal with SINGULARITY_NO_EVAL",
      ep: ["show"],
      cmd: null,
      args: ["$HOME", "a\\\\b", "x y", "it's"],
      want: ["/home/someone", "a\\b", "x y", "it's"],
      noEvalWant: ["$HOME", "a\\\\b", "x y", "it's"],
    },
    {
      name: "caller arg with a newline survives both modes",
      ep: [],
      cmd: ["show"],
      args: ["show", "l1\nl2"],
      want: ["l1\nl2"],
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const evaluated = await run(c.ep, c.cmd, c.args);
      expect(evaluated.status).toBe(0);
      expect(evaluated.argv).toEqual(c.want);
      const literal = await run(c.ep, c.cmd, c.args, true);
      expect(literal.status).toBe(0);
      expect(literal.argv).toEqual(c.noEvalWant ?? c.want);
    });
  }

  it("caller args with every tricky character pass through untouched under SINGULARITY_NO_EVAL", async () => {
    const r = await run(["show", "fixed"], ["unused"], tricky, true);
    expect(r.argv).toEqual(["fixed", ...tricky]);
  });

  it("neither Entrypoint nor Cmd nor args: `set` lists the variables and the script exits 0", async () => {
    for (const noEval of [false, true]) {
      const r = await run(null, null, [], noEval);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("SINGULARITY_OCI_RUN=' '");
    }
  });

  it("a missing command fails like exec does (127)", async () => {
    const r = await run(["no-such-program"], null, []);
    expect(r.status).toBe(127);
  });

  it("writes OCI_ENTRYPOINT and OCI_CMD in Apptainer's format", () => {
    const text = renderRunscript(["/bin/echo", "it's $x"], null);
    const lines = text.split("\n");
    expect(lines[0]).toBe("#!/bin/sh");
    expect(lines[1]).toBe(`OCI_ENTRYPOINT='"/bin/echo" "it'"'"'s \\$x"'`);
    expect(lines[2]).toBe("OCI_CMD=''");
  });
});

describe("shell escaping", () => {
  it.each([
    ["plain", "plain"],
    ['a"b', 'a\\"b'],
    ["$x", "\\$x"],
    ["`c`", "\\`c\\`"],
    ["back\\", "back\\\\"],
    ["it's", "it's"],
  ])("escapeDoubleQuoted(%j) = %j", (input, want) => {
    expect(escapeDoubleQuoted(input)).toBe(want);
  });

  it("escapeSingleQuotes closes, quotes and reopens", () => {
    expect(escapeSingleQuotes("it's")).toBe(`it'"'"'s`);
  });

  it("argsQuoted joins double-quoted words with single spaces", () => {
    expect(argsQuoted([])).toBe("");
    expect(argsQuoted(["a", "b c", ""])).toBe('"a" "b c" ""');
  });
});
