import { join } from "node:path";
import { debrisName, sweepDebris, sweepTempDirOnce } from "../debris.js";

const sweeps = new Map<string, Promise<unknown>>();

/**
 * A fresh directory for a gateway sync to stage one image's objects in:
 * `<cacheDir>/staging/<tag>.<pid>.<host tag>.<…>` (a debris name, see debris.ts); the sync
 * removes it when it ends, failed or not. The first call of a process for a cache directory
 * first sweeps what killed syncs left there (directories whose process is gone, or untouched for
 * a day) and this tool's leftovers in the temp directory, never a directory of a live run.
 */
export async function newStagingDir(cacheDir: string, tag: string): Promise<string> {
  const parent = join(cacheDir, "staging");
  let swept = sweeps.get(parent);
  if (!swept) {
    swept = Promise.all([sweepDebris(parent), sweepTempDirOnce()]);
    sweeps.set(parent, swept);
  }
  await swept;
  return join(parent, debrisName(tag));
}
