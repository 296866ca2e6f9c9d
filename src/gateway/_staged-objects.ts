import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import pLimit from "p-limit";
import { request, type Dispatcher } from "undici";
import { GatewayError } from "../errors.js";
import { parseObjectHash } from "./object-hash.js";
import type { PackFileObject } from "./object-pack.js";

/** Every object file under a staging store's `data/xx/` (temp files in `data/txn` skipped). */
export async function listStagedObjects(rootDir: string): Promise<PackFileObject[]> {
  const data = join(rootDir, "data");
  const out: PackFileObject[] = [];
  const dirs = (await readdir(data).catch(() => [] as string[])).filter((d) => /^[0-9a-f]{2}$/.test(d)).sort();
  for (const d of dirs) {
    for (const name of (await readdir(join(data, d))).sort()) {
      const hash = `${d}${name}`;
      if (!parseObjectHash(hash)) continue;
      const path = join(data, d, name);
      out.push({ hash, size: (await stat(path)).size, path });
    }
  }
  return out;
}

/**
 * The objects the repository at `repoUrl` (…/cvmfs/<fqrn>) lacks, by `HEAD data/xx/…` in
 * parallel. Only 200 counts as present and 404 as missing; anything else is an error rather than
 * a guess, since a wrong "present" would publish a catalog naming an object nobody uploaded.
 */
export async function missingObjects(
  repoUrl: string,
  objects: readonly PackFileObject[],
  opts: { concurrency?: number; dispatcher?: Dispatcher; signal?: AbortSignal } = {},
): Promise<PackFileObject[]> {
  const limit = pLimit(opts.concurrency ?? 16);
  const base = repoUrl.replace(/\/+$/, "");
  const present = await Promise.all(
    objects.map((o) =>
      limit(async () => {
        const res = await request(`${base}/data/${o.hash.slice(0, 2)}/${o.hash.slice(2)}`, {
          method: "HEAD",
          dispatcher: opts.dispatcher,
          signal: opts.signal,
        });
        await res.body.dump();
        if (res.statusCode === 200) return true;
        if (res.statusCode === 404) return false;
        throw new GatewayError(`HEAD object ${o.hash} on ${base}: HTTP ${res.statusCode}`);
      }),
    ),
  );
  return objects.filter((_, i) => !present[i]);
}
