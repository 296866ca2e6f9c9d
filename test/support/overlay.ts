/**
 * Kernel overlayfs for the runtime-format tests (root only): mount layer directories as
 * read-only lower directories, and compare two directory trees entry by entry.
 *
 *   const umount = await mountOverlay([top, middle, base], target);   // topmost first
 *   try { expect(await compareTrees(target, imageDir, { ignore })).toEqual([]); } finally { await umount(); }
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";

/**
 * Mounts `lowerdirs` (topmost layer first: the last manifest layer first) as a read-only
 * overlay at `target` (created when missing); resolves to the function that unmounts it.
 * Paths must not hold `:` or `,`, which the mount options would split on.
 */
export async function mountOverlay(lowerdirs: string[], target: string): Promise<() => Promise<void>> {
  if (lowerdirs.some((d) => /[:,]/.test(d))) throw new Error(`overlay lower directories must not hold ':' or ',': ${lowerdirs.join(" ")}`);
  await mkdir(target, { recursive: true });
  // A single lower directory needs a second one for overlayfs to mount without an upper: an empty one.
  const lowers = lowerdirs.length === 1 ? [...lowerdirs, await emptyDir(target)] : lowerdirs;
  await execa("mount", ["-t", "overlay", "overlay", "-o", `ro,lowerdir=${lowers.join(":")}`, target]);
  let mounted = true;
  return async () => {
    if (!mounted) return;
    mounted = false;
    await execa("umount", [target]);
  };
}

async function emptyDir(target: string): Promise<string> {
  const dir = `${target}.empty-lower`;
  await mkdir(dir, { recursive: true });
  return dir;
}

/** What is compared of one entry: type, permission bits, owner, and by type bytes, target, device or mtime. */
export interface EntryFacts {
  type: "dir" | "file" | "symlink" | "char" | "block" | "fifo" | "socket";
  mode: string;
  owner: string;
  /** sha256 of a file's bytes, a symlink's target, a device's rdev. */
  content?: string;
  /** Whole seconds, for everything but directories (a directory's mtime is its own layer's, not the merge's). */
  mtime?: number;
}

/** Every entry below `root` by relative path (`""` is the root), not following symlinks; `skip` prunes a path and what is below it. */
export async function snapshotTree(root: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, EntryFacts>> {
  const out = new Map<string, EntryFacts>();
  const visit = async (rel: string): Promise<void> => {
    const full = rel === "" ? root : join(root, rel);
    const st = await lstat(full);
    const type: EntryFacts["type"] = st.isDirectory()
      ? "dir"
      : st.isFile()
        ? "file"
        : st.isSymbolicLink()
          ? "symlink"
          : st.isCharacterDevice()
            ? "char"
            : st.isBlockDevice()
              ? "block"
              : st.isFIFO()
                ? "fifo"
                : "socket";
    const facts: EntryFacts = { type, mode: (st.mode & 0o7777).toString(8), owner: `${st.uid}:${st.gid}` };
    if (type === "file") facts.content = await sha256File(full);
    else if (type === "symlink") facts.content = await readlink(full);
    else if (type === "char" || type === "block") facts.content = String(st.rdev);
    if (type !== "dir") facts.mtime = Math.floor(st.mtimeMs / 1000);
    out.set(rel, facts);
    if (type !== "dir") return;
    for (const name of (await readdir(full)).sort()) {
      const child = rel === "" ? name : `${rel}/${name}`;
      if (!skip(child)) await visit(child);
    }
  };
  await visit("");
  return out;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

export interface CompareOptions {
  /** Paths (relative, and everything below them) left out on both sides. */
  skip?: (rel: string) => boolean;
  /** Paths that may exist on the `expected` side only (e.g. what Apptainer adds to a sandbox). */
  expectedOnly?: (rel: string) => boolean;
}

/**
 * The differences between the tree at `actual` and the one at `expected`, one line each
 * (`missing`, `extra`, or `path: field actual ≠ expected`); empty when they match.
 */
export async function compareTrees(actual: string, expected: string, options: CompareOptions = {}): Promise<string[]> {
  const [a, e] = await Promise.all([snapshotTree(actual, options.skip), snapshotTree(expected, options.skip)]);
  const problems: string[] = [];
  for (const [rel, want] of e) {
    const got = a.get(rel);
    if (got === undefined) {
      if (!options.expectedOnly?.(rel)) problems.push(`${rel || "/"}: missing`);
      continue;
    }
    for (const key of ["type", "mode", "owner", "content", "mtime"] as const) {
      if (got[key] !== want[key]) problems.push(`${rel || "/"}: ${key} ${String(got[key])} ≠ ${String(want[key])}`);
    }
  }
  for (const rel of a.keys()) if (!e.has(rel)) problems.push(`${rel}: extra`);
  return problems;
}
