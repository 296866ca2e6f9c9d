import { RepositoryError } from "../errors.js";
import type { RepositoryReader } from "../cvmfs/repository/repository-reader.js";
import type { PublishedTreeSource, TreeEntry } from "./published-state.js";

/**
 * The repository reader seen as the narrow source the published state is read from: a missing
 * directory lists as empty (a new repository has no `/.images` yet), file bytes are collected
 * (metadata files are small).
 */
export function publishedTreeSource(reader: RepositoryReader): PublishedTreeSource {
  return {
    async listing(path: string): Promise<TreeEntry[]> {
      const entry = await reader.lookup(path);
      if (entry?.kind !== "dir") return [];
      const children = await reader.listing(path);
      return children.map((c) => ({
        name: c.name,
        type: c.kind === "special" ? "other" : c.kind,
        ...(c.kind === "symlink" ? { target: c.symlink } : {}),
        ...(c.kind === "file" && c.hash !== null ? { hash: c.hash } : {}),
      }));
    },
    async readFile(path: string): Promise<Buffer> {
      const entry = await reader.lookup(path);
      if (entry?.kind !== "file") throw new RepositoryError(`${path}: no such file in the repository`);
      const parts: Buffer[] = [];
      for await (const chunk of reader.readFile(path)) parts.push(chunk as Buffer);
      return Buffer.concat(parts);
    },
  };
}
