/**
 * Run by the repository tests in a child process: publishes one revision and SIGKILLs itself
 * right after the named publish step, to show what a real crash leaves behind; with a step that
 * is none of them (`none`) it publishes, closes the stratum 0 and exits as a run that went well.
 * argv: <dir> <keysDir> <fqrn> <step>
 */
import { Stratum0 } from "../../../src/cvmfs/repository/stratum0.js";
import { prepareRoot } from "./repo-fixture.js";

const [dir, keysDir, fqrn, step] = process.argv.slice(2) as [string, string, string, string];
const s0 = await Stratum0.openOrCreate(dir, {
  fqrn,
  keysDir,
  faultHook: (s) => {
    if (s === step) process.kill(process.pid, "SIGKILL");
  },
});
await s0.publish(await prepareRoot(s0, 100 + (await s0.refresh()).revision));
await s0.close();
