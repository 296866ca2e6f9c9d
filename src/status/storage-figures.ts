import pLimit from "p-limit";
import { openCatalog, type CatalogReader } from "../cvmfs/catalog/reader.js";
import { inflateBuffer } from "../cvmfs/objects/object-codec.js";
import type { RepositoryReader } from "../cvmfs/repository/repository-reader.js";
import { debug, type Logger } from "../logger.js";
import type { StorageFigures } from "./assemble-status.js";

/**
 * Measure the repository's file bytes twice: once per file (what the images hold together) and
 * once per distinct content (what file-level dedup leaves to store). Every catalog is read, from
 * the root down through the nested ones, one at a time per slot of `concurrency`, in memory, and
 * closed before the next: the cost is one download of each catalog, like `verify` without the
 * data objects. A chunked file counts by its chunks.
 */
export async function measureStorage(
  reader: RepositoryReader,
  opts: { concurrency: number; logger: Logger; signal?: AbortSignal },
): Promise<StorageFigures> {
  const limit = pLimit(opts.concurrency);
  const distinct = new DistinctContents();
  let bytes = 0;
  let catalogs = 0;
  const visit = async (hash: string, mountpoint: string): Promise<void> => {
    const nested = await limit(async () => {
      opts.signal?.throwIfAborted();
      const catalog = openCatalog(inflateBuffer(await reader.fetchObject(hash, "C")));
      try {
        catalogs++;
        bytes += countFiles(catalog, mountpoint, distinct);
        return catalog.nested();
      } finally {
        catalog.close();
      }
    });
    await Promise.all(nested.map((n) => visit(n.hash, n.path)));
  };
  await visit(reader.manifest.catalogHash, "");
  debug(opts.logger, "status.storage", `${catalogs} catalog(s): ${bytes} file bytes, ${distinct.bytes} distinct`, { catalogs, bytes, stored: distinct.bytes });
  return { bytes, storedBytes: distinct.bytes };
}

/** Walks one catalog's directories from its mountpoint (not into nested ones); returns the file bytes it holds. */
function countFiles(catalog: CatalogReader, mountpoint: string, distinct: DistinctContents): number {
  let bytes = 0;
  const dirs = [mountpoint];
  for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
    for (const entry of catalog.listing(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.kind === "dir") {
        if (!entry.isMountpoint) dirs.push(path);
      } else if (entry.kind === "file") {
        bytes += entry.size;
        if (entry.hash !== null) distinct.add(entry.hash, entry.size);
        else for (const chunk of catalog.chunks(path)) distinct.add(chunk.hash, chunk.size);
      }
    }
  }
  return bytes;
}

/**
 * A set of content hashes that sums the size of each the first time it is seen. A repository of
 * thousands of images names tens of millions of files, so hashes are not kept as strings: the
 * first two hex digits pick one of 256 sets and the next twelve are kept as a number (56 bits in
 * all; two different contents meeting there would only make the total a file smaller).
 */
class DistinctContents {
  private readonly sets = Array.from({ length: 256 }, () => new Set<number>());
  bytes = 0;

  add(hash: string, size: number): void {
    const set = this.sets[Number.parseInt(hash.slice(0, 2), 16)];
    const key = Number.parseInt(hash.slice(2, 14), 16);
    if (set === undefined || Number.isNaN(key) || set.has(key)) return;
    set.add(key);
    this.bytes += size;
  }
}
