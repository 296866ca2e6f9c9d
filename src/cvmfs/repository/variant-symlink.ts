import { RepositoryError } from "../../errors.js";

/**
 * Pure: a symlink target as a client sees it. The CVMFS client expands `$(VAR)` and
 * `$(VAR:-default)` in targets from its own environment (catalog_sql.cc `ExpandSymlink`); a
 * variable the environment lacks becomes its default, or nothing. The client sets `CVMFS_ARCH`
 * to the node's `uname -m` itself, which is what per-architecture names rely on.
 */
export function expandVariantSymlink(target: string, env: Readonly<Record<string, string | undefined>>): string {
  return target.replace(/\$\(([A-Za-z0-9_]+)(?::-([^)]*))?\)/g, (_match, name: string, fallback: string | undefined) => env[name] ?? fallback ?? "");
}

/** What resolving a path needs of a repository: the kind of an entry and, for a symlink, its target. */
export type LinkLookup = (path: string) => Promise<{ kind: string; symlink: string } | null>;

/** As the kernel's ELOOP limit: a chain longer than this is a loop. */
const MAX_LINKS = 40;

/**
 * The path `path` names once every symlink on the way (the last component included) is followed
 * with variant targets expanded from `env`, as a client with that environment would follow it.
 * Targets resolve against the link's directory; an absolute target (`/cvmfs/<repo>/…`) is taken
 * as inside the repository after `mountpoint`, when given. Returns the final path (which may not
 * exist); throws RepositoryError on a loop or a link out of the repository.
 */
export async function resolveRepositoryPath(
  path: string,
  lookup: LinkLookup,
  env: Readonly<Record<string, string | undefined>>,
  mountpoint?: string,
): Promise<string> {
  let pending = path.split("/").filter((c) => c !== "");
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const [head, ...rest] = pending as [string, ...string[]];
    pending = rest;
    if (head === ".") continue;
    if (head === "..") {
      done.pop();
      continue;
    }
    const here = `/${[...done, head].join("/")}`;
    const entry = await lookup(here);
    if (entry?.kind !== "symlink") {
      done.push(head);
      continue;
    }
    if (++hops > MAX_LINKS) throw new RepositoryError(`${path}: more than ${MAX_LINKS} symlinks (a loop)`);
    let target = expandVariantSymlink(entry.symlink, env);
    if (target.startsWith("/")) {
      if (mountpoint === undefined || !(target === mountpoint || target.startsWith(`${mountpoint}/`))) {
        throw new RepositoryError(`${here} points out of the repository (${target})`);
      }
      target = target.slice(mountpoint.length);
      done.length = 0;
    }
    pending = [...target.split("/").filter((c) => c !== ""), ...pending];
  }
  return `/${done.join("/")}`;
}
