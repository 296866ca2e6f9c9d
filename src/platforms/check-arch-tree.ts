import { ARCH_ALIASES, ARCH_ROOT } from "./arch-names.js";

/**
 * `verify`'s check of what a client on each architecture sees: every per-architecture name
 * (`/.multiarch/<arch>/…`) must lead to an image directory, and every variant link (a target with
 * `$(CVMFS_ARCH)`, such as `/.multiarch/host`) must lead, for each architecture the repository
 * publishes, to that architecture's own directory. An architecture it does not publish is left
 * alone: a node of it finds nothing there, which is what the repository offers, not damage.
 */

/** What the check reads of a repository; RepositoryReader offers it (a port, so this room stays below cvmfs/). */
export interface ArchTreeSource {
  lookup(path: string): Promise<{ kind: string; symlink?: string } | null>;
  listing(path: string): Promise<{ path: string; kind: string }[]>;
  /** Follows every symlink, expanding `$(VAR)` from `env` as a client does; throws on a loop or a link out of the repository. */
  resolvePath(path: string, env: Readonly<Record<string, string>>): Promise<string>;
}

/** The values the CVMFS client gives `CVMFS_ARCH` (`uname -m`) on the architectures sites run. */
export const CLIENT_ARCHES = ["x86_64", "aarch64", "ppc64le"] as const;

/** Whether a symlink target is expanded per client (a CVMFS variant symlink). */
export function isVariantTarget(target: string): boolean {
  return /\$\([A-Za-z0-9_]+(?::-[^)]*)?\)/.test(target);
}

/**
 * Checks the per-architecture tree and the variant links at `variantLinks` (paths the catalog walk
 * found; the tree's own `host` link is found without them). `imageRoots` are the directories
 * image directories live in (`/.images`, `/.flat`). Returns one line per problem, none when fine.
 */
export async function checkArchTree(repo: ArchTreeSource, options: { imageRoots: readonly string[]; variantLinks?: readonly string[] }): Promise<string[]> {
  const problems: string[] = [];
  const root = await repo.lookup(ARCH_ROOT);
  const entries = root?.kind === "dir" ? await repo.listing(ARCH_ROOT) : [];
  if (root !== null && root.kind !== "dir") problems.push(`${ARCH_ROOT}: not a directory`);
  const archDirs = new Set(entries.filter((e) => e.kind === "dir").map((e) => e.path));

  // Per-architecture names: ordinary relative links, the same on every node.
  const stack = [...archDirs];
  while (stack.length > 0) {
    for (const e of await repo.listing(stack.pop() as string)) {
      if (e.kind === "dir") stack.push(e.path);
      else if (e.kind === "symlink") await expectImage(repo, e.path, {}, options.imageRoots, problems);
    }
  }

  // Variant links, once per client architecture the repository publishes.
  const variant = new Set(options.variantLinks ?? []);
  for (const e of entries) if (e.kind === "symlink" && isVariantTarget((await repo.lookup(e.path))?.symlink ?? "")) variant.add(e.path);
  for (const arch of CLIENT_ARCHES) {
    const own = `${ARCH_ROOT}/${ARCH_ALIASES[arch] ?? arch}`;
    if (!archDirs.has(own)) continue;
    const env = { CVMFS_ARCH: arch };
    for (const link of [...variant].sort()) {
      const where = `${link} with CVMFS_ARCH=${arch}`;
      const resolved = await resolve(repo, link, env, where, problems);
      if (resolved === undefined) continue;
      if (link.startsWith(`${ARCH_ROOT}/`) && link.lastIndexOf("/") === ARCH_ROOT.length) {
        // A variant link in the tree's root stands for the node's own architecture directory.
        if (resolved !== own) problems.push(`${where}: resolves to ${resolved}, not ${own}`);
      } else if ((await repo.lookup(resolved)) === null) {
        problems.push(`${where}: dangling (resolves to ${resolved})`);
      }
    }
  }
  return problems;
}

/** A name must resolve to an existing directory inside one of the image roots. */
async function expectImage(repo: ArchTreeSource, path: string, env: Record<string, string>, imageRoots: readonly string[], problems: string[]): Promise<void> {
  const resolved = await resolve(repo, path, env, path, problems);
  if (resolved === undefined) return;
  const entry = await repo.lookup(resolved);
  if (entry === null) problems.push(`${path}: dangling (resolves to ${resolved})`);
  else if (entry.kind !== "dir" || !imageRoots.some((r) => resolved.startsWith(`${r}/`))) problems.push(`${path}: resolves to ${resolved}, which is not an image directory`);
}

async function resolve(repo: ArchTreeSource, path: string, env: Record<string, string>, where: string, problems: string[]): Promise<string | undefined> {
  try {
    return await repo.resolvePath(path, env);
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
    return undefined;
  }
}
