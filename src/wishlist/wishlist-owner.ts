import { existsSync } from "node:fs";
import path from "node:path";

/**
 * The owner id a sync records for the names it publishes (see sync/name-owners.ts), unless
 * `--owner` says otherwise: the GitLab project path when the run is a CI job (`CI_PROJECT_PATH`),
 * else the wishlist files' paths inside their git repository (`images.txt`, or
 * `lists/a.txt,lists/b.txt`), so that the same list gives the same id from any checkout.
 */
export function defaultOwner(wishlistFiles: readonly string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  const project = env["CI_PROJECT_PATH"];
  if (project) return project;
  return wishlistFiles
    .map((file) => {
      const absolute = path.resolve(cwd, file);
      const root = gitRoot(path.dirname(absolute));
      return root === undefined ? absolute : path.relative(root, absolute);
    })
    .sort()
    .join(",");
}

/** The nearest directory at or above `dir` that holds `.git`, if any. */
function gitRoot(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, ".git"))) return d;
    if (path.dirname(d) === d) return undefined;
  }
}
