/**
 * Run by garbage-collect-kill.test.ts in a child process: collects garbage (keeping 2 revisions)
 * and SIGKILLs itself at the named point, to show what a real crash leaves behind.
 * argv: <dir> <keysDir> <fqrn> <point>, where point is a gc step (`mark`, `history`, `publish`,
 * `delete:N` for the Nth deletion) or a step of the manifest rewrite (`s0:reflog`, `s0:manifest`).
 */
import { garbageCollect } from "../../../src/cvmfs/gc/garbage-collect.js";
import { Stratum0 } from "../../../src/cvmfs/repository/stratum0.js";

const [dir, keysDir, fqrn, point] = process.argv.slice(2) as [string, string, string, string];
const [where, step, nth] = point.startsWith("s0:") ? ["s0", point.slice(3), "1"] : ["gc", ...point.split(":")];
let seen = 0;
const killAt = (kind: string, at: string) => {
  if (kind === where && at === step && ++seen >= Number(nth ?? 1)) process.kill(process.pid, "SIGKILL");
};
const s0 = await Stratum0.openOrCreate(dir, { fqrn, keysDir, faultHook: (s) => killAt("s0", s) });
await garbageCollect(s0, { retention: { keepRevisions: 2, keepDays: 0 }, faultHook: (s) => killAt("gc", s) });
