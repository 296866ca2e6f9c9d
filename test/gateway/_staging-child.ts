/**
 * Child process of staging-dir.test.ts: stages an object as a gateway sync does, prints the
 * staging directory and dies with SIGKILL, as a sync killed mid-image would.
 * argv: cacheDir
 */
import { Readable } from "node:stream";
import { LocalContentStore } from "../../src/cvmfs/objects/local-content-store.js";
import { newStagingDir } from "../../src/gateway/staging-dir.js";

const [cacheDir] = process.argv.slice(2) as [string];
const dir = await newStagingDir(cacheDir, "abcdef012345");
const store = await LocalContentStore.create(dir);
await store.putFile(Readable.from([Buffer.from("staged, never published\n")]));
process.stdout.write(`${dir}\n`);
process.kill(process.pid, "SIGKILL");
