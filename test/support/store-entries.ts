/**
 * Writes runtime-store entries (src/formats: directories, files, symlinks by repository path) under
 * a local directory, as a publisher would write them into the repository: `/podmanStore/x` lands at
 * `<root>/podmanStore/x`. Missing parents are made; an existing file or symlink is replaced, so a
 * test can write the shared files again after the image set changed. `removeStoreEntries` takes an
 * image's entries away again, deepest first.
 */
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { StoreEntry } from "../../src/runtimes/podman-store.js";

const local = (root: string, path: string): string => join(root, path);

export async function writeStoreEntries(root: string, entries: readonly StoreEntry[]): Promise<void> {
  for (const entry of entries) {
    const target = local(root, entry.path);
    if (entry.kind === "dir") {
      await mkdir(target, { recursive: true });
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    await rm(target, { force: true });
    if (entry.kind === "file") await writeFile(target, entry.content);
    else await symlink(entry.target, target);
  }
}

export async function removeStoreEntries(root: string, entries: readonly StoreEntry[]): Promise<void> {
  for (const entry of [...entries].reverse()) await rm(local(root, entry.path), { recursive: true, force: true });
}
