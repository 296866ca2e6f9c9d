import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import pLimit from "p-limit";
import { request, type Dispatcher } from "undici";
import { describeError, GatewayError } from "../errors.js";
import { connectionFailure, withRetries, type RetryPolicy } from "../retry.js";
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

/** Answers of a busy or restarting server (or of a proxy in front of it): worth another try. */
const TRANSIENT_STATUS = new Set([429, 502, 503, 504]);

/**
 * The objects the repository at `repoUrl` (…/cvmfs/<fqrn>) lacks, by `HEAD data/xx/…` in
 * parallel. Only 200 counts as present and 404 as missing; anything else is an error rather than
 * a guess, since a wrong "present" would publish a catalog naming an object nobody uploaded.
 * A HEAD is safe to repeat: connection failures and busy answers are retried with the shared
 * backoff (src/retry.ts), so a stratum 0 restarting for a second is ridden out; the error after
 * the last try names the URL and the cause.
 */
export async function missingObjects(
  repoUrl: string,
  objects: readonly PackFileObject[],
  opts: { concurrency?: number; dispatcher?: Dispatcher; signal?: AbortSignal; retry?: RetryPolicy } = {},
): Promise<PackFileObject[]> {
  const limit = pLimit(opts.concurrency ?? 16);
  const base = repoUrl.replace(/\/+$/, "");
  const head = async (url: string): Promise<boolean> => {
    let res;
    try {
      res = await request(url, { method: "HEAD", dispatcher: opts.dispatcher, signal: opts.signal });
      await res.body.dump();
    } catch (cause) {
      if (opts.signal?.aborted) throw cause;
      throw new GatewayError(`HEAD ${url}: ${describeError(cause)}`, undefined, { cause });
    }
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    const err = new GatewayError(`HEAD ${url}: HTTP ${res.statusCode}`);
    if (TRANSIENT_STATUS.has(res.statusCode)) transient.add(err);
    throw err;
  };
  const transient = new WeakSet<Error>();
  const present = await Promise.all(
    objects.map((o) =>
      limit(() =>
        withRetries(() => head(`${base}/data/${o.hash.slice(0, 2)}/${o.hash.slice(2)}`), {
          ...(opts.retry ? { policy: opts.retry } : {}),
          retryable: (err) => connectionFailure(err) !== undefined || (err instanceof Error && transient.has(err)),
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
      ),
    ),
  );
  return objects.filter((_, i) => !present[i]);
}
