/**
 * Fake docker credential helpers: real executables `docker-credential-<suffix>` in a temp dir that
 * answer `get` from a table keyed by the server URL read on stdin, and append every call to a log,
 * so tests can count runs. `onPath()` puts the dir first on PATH until `restorePath()`.
 */
import { chmod, readFile, writeFile } from "node:fs/promises";
import { delimiter } from "node:path";
import { testdir, type Testdir } from "./testdir.js";

/** One answer of a fake helper: what it prints on stdout, its exit status, and how long it stalls first. */
export interface HelperAnswer {
  stdout: string;
  exit?: number;
  delayMs?: number;
}

/** The `get` answer docker-credential-helpers gives for a stored username and secret. */
export const found = (username: string, secret: string): HelperAnswer => ({ stdout: JSON.stringify({ ServerURL: "", Username: username, Secret: secret }) + "\n" });

/** The answer of a helper that holds nothing for the server. */
export const notFound: HelperAnswer = { stdout: "credentials not found in native keychain\n", exit: 1 };

/** One recorded run: the arguments and what came on stdin. */
export interface HelperCall {
  args: string[];
  input: string;
}

export interface HelperDir {
  readonly path: string;
  /** Write `docker-credential-<suffix>`; `answers` keyed by server URL, `*` for any other; unlisted → not found. */
  add(suffix: string, answers: Record<string, HelperAnswer>): Promise<void>;
  /** Runs of helper `suffix` so far, in order. */
  calls(suffix: string): Promise<HelperCall[]>;
  /** Prepend the dir to PATH (restored by `restorePath`). */
  onPath(): void;
  restorePath(): void;
  cleanup(): Promise<void>;
}

/** A dir for fake helpers (see the module comment). */
export async function helperDir(): Promise<HelperDir> {
  const dir: Testdir = await testdir({}, "cis-helpers-");
  let savedPath: string | undefined;
  let onPath = false;
  const logOf = (suffix: string): string => dir.join(`${suffix}.log`);
  const restorePath = (): void => {
    if (!onPath) return;
    if (savedPath === undefined) delete process.env["PATH"];
    else process.env["PATH"] = savedPath;
    onPath = false;
  };
  return {
    path: dir.path,
    async add(suffix, answers) {
      const file = dir.join(`docker-credential-${suffix}`);
      // Node itself (not a shell) keeps quoting out of the picture; the table is embedded as JSON.
      const script =
        `#!${process.execPath}\n` +
        `const fs = require("node:fs");\n` +
        `const answers = ${JSON.stringify(answers)};\n` +
        `let input = "";\n` +
        `process.stdin.on("data", (d) => (input += d));\n` +
        `process.stdin.on("end", () => {\n` +
        `  fs.appendFileSync(${JSON.stringify(logOf(suffix))}, JSON.stringify({ args: process.argv.slice(2), input }) + "\\n");\n` +
        `  const a = answers[input] ?? answers["*"] ?? { stdout: "credentials not found in native keychain\\n", exit: 1 };\n` +
        `  setTimeout(() => { process.stdout.write(a.stdout, () => process.exit(a.exit ?? 0)); }, a.delayMs ?? 0);\n` +
        `});\n`;
      await writeFile(file, script);
      await chmod(file, 0o755);
    },
    async calls(suffix) {
      const text = await readFile(logOf(suffix), "utf8").catch(() => "");
      return text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as HelperCall);
    },
    onPath() {
      if (onPath) return;
      savedPath = process.env["PATH"];
      process.env["PATH"] = savedPath ? `${dir.path}${delimiter}${savedPath}` : dir.path;
      onPath = true;
    },
    restorePath,
    async cleanup() {
      restorePath();
      await dir.cleanup();
    },
  };
}
