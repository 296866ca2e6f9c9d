/**
 * Temporary directories for tests that remove themselves. `testdir({ "a/b.txt": "x" })` builds a
 * tree from a table of paths; `cleanupTestdirs()` (or each handle's `cleanup()`) removes it, so an
 * `afterAll(cleanupTestdirs)` is all a suite needs.
 */
import { statSync } from "node:fs";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A temp dir: `path` is absolute; `cleanup()` removes it (idempotent). */
export interface Testdir {
  readonly path: string;
  /** Absolute path of `relative` inside the dir. */
  join(...relative: string[]): string;
  cleanup(): Promise<void>;
}

const live = new Set<Testdir>();

/**
 * Create a temp dir (under `parent`, default `$TMPDIR`), optionally filled from `files`: keys are
 * relative paths, values file contents; a key ending in `/` makes an empty directory.
 */
export async function testdir(files: Record<string, string | Buffer> = {}, prefix = "cis-test-", parent: string = tmpdir()): Promise<Testdir> {
  const path = await mkdtemp(join(parent, prefix));
  for (const [rel, content] of Object.entries(files)) {
    const full = join(path, rel);
    if (rel.endsWith("/")) {
      await mkdir(full, { recursive: true });
      continue;
    }
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  const dir: Testdir = {
    path,
    join: (...relative) => join(path, ...relative),
    async cleanup() {
      live.delete(dir);
      await rm(path, { recursive: true, force: true });
    },
  };
  live.add(dir);
  return dir;
}

/** Remove every temp dir made by `testdir` that is still there. */
export async function cleanupTestdirs(): Promise<void> {
  await Promise.all([...live].map((d) => d.cleanup()));
}

/** Whether /dev/shm is there and on another filesystem than the temp dir (to get EXDEV between them). */
export function shmIsSeparate(): boolean {
  try {
    return statSync("/dev/shm").dev !== statSync(tmpdir()).dev;
  } catch {
    return false;
  }
}
