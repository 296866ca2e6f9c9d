/**
 * Child process of interrupt.test.ts: runs the CLI as the installed command does (main with the
 * process's own streams and signal handlers) and sends itself SIGTERM at one moment:
 * - `event:NAME`: when the JSON event log reports NAME;
 * - `publishing`: when, after the images are done, the publish takes the stratum 0's lock;
 * - `after`: once main has returned, while the process winds down.
 * argv: <moment> <stratum0 dir> <cli args…>
 */
import { watch } from "node:fs";
import { main } from "../../src/cli/main.js";

const [moment, stratum0, ...args] = process.argv.slice(2) as [string, string, ...string[]];
const terminate = () => process.kill(process.pid, "SIGTERM");

const onEvent = (event: string, act: () => void) => {
  const write = process.stderr.write.bind(process.stderr) as (chunk: string | Uint8Array) => boolean;
  let done = false;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    if (!done && String(chunk).includes(`"event":"${event}"`)) {
      done = true;
      act();
    }
    return write(chunk);
  }) as typeof process.stderr.write;
};

if (moment.startsWith("event:")) onEvent(moment.slice("event:".length), terminate);
if (moment === "publishing") {
  onEvent("image.done", () => {
    const watcher = watch(stratum0, (_type, name) => {
      if (name !== ".cvmfs_publish.lock") return;
      watcher.close();
      terminate();
    });
  });
}
const code = await main([...args, "--stratum0", stratum0, "--log-format", "json"]);
process.exitCode = code;
if (moment === "after") {
  terminate();
  // Keep the process up long enough for the signal to arrive while it winds down.
  setTimeout(() => undefined, 3000);
}
