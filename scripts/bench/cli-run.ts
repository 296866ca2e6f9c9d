/** What the benches that run the command line share: a quiet in-process run, and the objects it stored. */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { main } from "../../src/cli/main.js";

/** Runs the command in this process with its output captured (stderr dropped). */
export async function runQuiet(args: string[]): Promise<{ code: number; stdout: string }> {
  const out = new PassThrough();
  let stdout = "";
  out.on("data", (d: Buffer) => (stdout += d.toString()));
  const code = await main(args, { stdout: out, stderr: new PassThrough(), env: process.env, signal: new AbortController().signal });
  return { code, stdout };
}

/** A stratum 0's stored objects (`xx/rest` + suffix → bytes), the transaction area left out. */
export function storedObjects(stratum0: string): Map<string, number> {
  const found = new Map<string, number>();
  const data = join(stratum0, "data");
  for (const sub of readdirSync(data)) {
    if (sub === "txn") continue;
    for (const f of readdirSync(join(data, sub))) found.set(`${sub}/${f}`, statSync(join(data, sub, f)).size);
  }
  return found;
}
