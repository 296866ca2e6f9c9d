import { rm } from "node:fs/promises";
import type { ObjectSuffix } from "../../content/content-store.js";
import { RepositoryError } from "../../errors.js";
import { debug, type Logger } from "../../logger.js";
import { openCatalog } from "../catalog/reader.js";
import type { LocalContentStore } from "../objects/local-content-store.js";
import { isHashString } from "../objects/hash.js";
import { inflateToFile } from "./_object-file.js";

/**
 * The mark half of garbage collection: everything the kept root catalogs reach.
 *
 * An object is named by its key, `hash + suffix` (`ab12…C`, `ab12…P`, `ab12…`), which is also
 * `data/<2 chars>/<rest>` with the slash and `data/` taken out, so the sweep can test a file
 * against the set without parsing it. Only the set of keys stays in memory: each catalog is
 * inflated to a temp file, its rows are streamed, and the file is removed before the next.
 */

/** The key of an object in the reachable set. */
export function objectKey(hash: string, suffix: ObjectSuffix): string {
  return hash + suffix;
}

/**
 * Add to `reachable` every catalog below `roots` (nested ones included) and every file object
 * and chunk they name. A catalog already in the set is not read again: its hash fixes its whole
 * subtree, so revisions sharing an unchanged image catalog cost one read. Returns the number of
 * catalogs read. Throws RepositoryError naming the catalog when one is missing or unreadable:
 * nothing can be collected safely from a hierarchy that cannot be read whole.
 */
export async function markReachable(
  store: LocalContentStore,
  roots: readonly string[],
  reachable: Set<string>,
  opts: { tmpDir: string; logger: Logger; signal?: AbortSignal },
): Promise<number> {
  let read = 0;
  for (const root of roots) {
    const stack: { hash: string; mountpoint: string }[] = [{ hash: root, mountpoint: "" }];
    let catalogs = 0;
    while (stack.length > 0) {
      opts.signal?.throwIfAborted();
      const { hash, mountpoint } = stack.pop()!;
      const key = objectKey(hash, "C");
      if (reachable.has(key)) continue;
      reachable.add(key);
      let file: string;
      try {
        file = await inflateToFile(store, hash, "C", opts.tmpDir);
      } catch (cause) {
        throw new RepositoryError(`catalog ${key} (${mountpoint || "/"}) of root ${root}: ${(cause as Error).message}`, { cause });
      }
      try {
        const catalog = openCatalog(file);
        try {
          for (const o of catalog.objects()) reachable.add(objectKey(o.hash, o.suffix));
          for (const n of catalog.nested()) {
            if (!isHashString(n.hash)) throw new RepositoryError(`catalog ${key} names a malformed nested catalog hash "${n.hash}" at ${n.path}`);
            stack.push({ hash: n.hash, mountpoint: n.path });
          }
        } finally {
          catalog.close();
        }
      } finally {
        await rm(file, { force: true });
      }
      catalogs++;
    }
    read += catalogs;
    debug(opts.logger, "gc.mark", `root ${root}: ${catalogs} catalog(s) not seen before; ${reachable.size} objects reachable so far`, {
      root,
      catalogs,
      reachable: reachable.size,
    });
  }
  return read;
}
