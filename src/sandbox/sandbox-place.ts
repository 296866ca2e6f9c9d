import { randomBytes } from "node:crypto";
import { copyFile, cp, lstat, mkdir, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ConfigError } from "../errors.js";
import { warn, type Logger } from "../logger.js";
import { sidecarPath } from "./sidecar.js";

/**
 * Where `convert --sandbox DIR` works, all beside DIR (so on DIR's filesystem, and never inside
 * it): the staging directory of file bodies, and the sandbox in progress with its sidecar. The
 * finished sandbox is renamed to DIR in one step, so DIR is either untouched or complete: a
 * failed or interrupted convert leaves nothing in it, and two converts into one DIR cannot mix.
 */
export interface SandboxWorkArea {
  /** For a `StagingContentStore`. */
  staging: string;
  /** The sandbox being written (its sidecar is `partial.meta.json`). */
  partial: string;
}

/** Fresh work-area names for a sandbox at `dir` (hidden, with a random part; nothing is created). */
export function sandboxWorkArea(dir: string): SandboxWorkArea {
  const stem = join(dirname(dir), `.${basename(dir)}.${randomBytes(4).toString("hex")}`);
  return { staging: `${stem}.staging`, partial: `${stem}.partial` };
}

/**
 * Check, before anything is downloaded, that `dir` can become the sandbox: it is missing or an
 * empty directory (not a symlink). Its parent directories are created, since the work area goes
 * there. Throws a `ConfigError` that says what is wrong.
 */
export async function checkSandboxTarget(dir: string): Promise<void> {
  let st;
  try {
    st = await lstat(dir);
  } catch {
    await mkdir(dirname(dir), { recursive: true });
    return;
  }
  if (!st.isDirectory()) throw new ConfigError(`sandbox ${dir} exists and is not a directory`);
  if ((await readdir(dir)).length > 0) throw new ConfigError(`sandbox ${dir} exists and is not empty`);
}

/**
 * Put the finished sandbox `partial` (and its sidecar) in place as `dir`: one rename, which
 * replaces `dir` when it is an empty directory. When `dir` is a mount point of its own (an empty
 * volume: rename gives EXDEV or EBUSY), the tree is copied into it instead, with modes, times and
 * symlinks as they are; hardlinked files then become separate copies (the sidecar still records
 * them), and a warning says so. `dir` filled by someone else meanwhile is a `ConfigError`.
 */
export async function placeSandbox(partial: string, dir: string, logger: Logger): Promise<void> {
  try {
    await rename(partial, dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") {
      throw new ConfigError(`sandbox ${dir} was filled or replaced by someone else while the image was converted; nothing was written to it`, { cause: err });
    }
    if (code !== "EXDEV" && code !== "EBUSY") throw err;
    warn(logger, "sandbox.copy", `${dir} is on a filesystem of its own: copying the sandbox into it (hardlinked files become copies)`, { sandbox: dir });
    if ((await readdir(dir)).length > 0) throw new ConfigError(`sandbox ${dir} was filled by someone else while the image was converted; nothing was written to it`);
    await cp(partial, dir, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: true, force: false });
    await rm(partial, { recursive: true, force: true });
  }
  await moveFile(sidecarPath(partial), sidecarPath(dir));
}

/** rename(2), or copy and remove when the two are on different filesystems. */
async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    await copyFile(from, to);
    await rm(from, { force: true });
  }
}

/** Remove whatever a convert left in its work area (each part may or may not exist). */
export async function clearSandboxWorkArea(area: SandboxWorkArea): Promise<void> {
  await Promise.all([area.staging, area.partial, sidecarPath(area.partial)].map((p) => rm(p, { recursive: true, force: true })));
}
