/** Runs the CLI in-process, as `main` sees it, capturing what it prints. */
import { PassThrough } from "node:stream";
import { main } from "../../src/cli/main.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stderr parsed as JSON lines (with --log-format json). */
  events(): Array<Record<string, unknown>>;
}

export async function runCli(args: string[], options: { signal?: AbortSignal } = {}): Promise<CliRun> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d: Buffer) => (stdout += d.toString()));
  err.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await main(args, { stdout: out, stderr: err, env: process.env, signal: options.signal ?? new AbortController().signal });
  return {
    code,
    stdout,
    stderr,
    events: () =>
      stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
