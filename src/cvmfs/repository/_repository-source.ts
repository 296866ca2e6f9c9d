import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Agent, request } from "undici";
import { describeError, RepositoryError } from "../../errors.js";
import { connectionFailure, withRetries } from "../../retry.js";

/**
 * Where a repository's files come from: a stratum 0 directory or an HTTP base URL (the
 * `/cvmfs/<fqrn>` URL). Paths are repository-relative (`.cvmfspublished`, `data/ab/…C`).
 * `null` means "not there" (ENOENT / HTTP 404); every other failure throws RepositoryError.
 */
export interface RepositorySource {
  readonly description: string;
  getBytes(rel: string): Promise<Buffer | null>;
  getStream(rel: string): Promise<Readable | null>;
  close(): Promise<void>;
}

/** A stratum 0 directory, or the HTTP base URL of a repository (`http://host/cvmfs/<fqrn>`). */
export type SourceSpec = { dir: string } | { url: string };

/** A source for `spec`; HTTP sources keep one keep-alive connection pool until `close()`. */
export function openSource(spec: SourceSpec): RepositorySource {
  return "dir" in spec ? dirSource(spec.dir) : httpSource(spec.url);
}

function dirSource(dir: string): RepositorySource {
  const isMissing = (err: unknown) => ["ENOENT", "ENOTDIR", "EISDIR"].includes((err as NodeJS.ErrnoException).code ?? "");
  return {
    description: dir,
    async getBytes(rel) {
      try {
        return await readFile(join(dir, rel));
      } catch (err) {
        if (isMissing(err)) return null;
        throw new RepositoryError(`read ${join(dir, rel)}`, { cause: err });
      }
    },
    async getStream(rel) {
      try {
        const fh = await open(join(dir, rel), "r");
        return fh.createReadStream();
      } catch (err) {
        if (isMissing(err)) return null;
        throw new RepositoryError(`read ${join(dir, rel)}`, { cause: err });
      }
    },
    async close() {},
  };
}

/** Answers worth another try: a proxy or server busy or restarting. */
const TRANSIENT_STATUS = new Set([429, 502, 503, 504]);

function httpSource(base: string): RepositorySource {
  const root = base.replace(/\/+$/, "");
  // One keep-alive pool per reader: catalogs and objects come in long runs of small requests.
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 8 });
  const transient = new WeakSet<Error>();
  /**
   * A GET is safe to repeat: every connection failure and busy answer is retried with the
   * shared backoff (a stratum 0 restarting for a second or two is ridden out), and the error
   * after the last try names the URL, the cause and the number of tries.
   */
  async function retried<T>(rel: string, once: (url: string) => Promise<T>): Promise<T> {
    const url = `${root}/${rel}`;
    let tries = 0;
    try {
      return await withRetries(
        (n) => {
          tries = n;
          return once(url);
        },
        { retryable: (err) => connectionFailure(err) !== undefined || (err instanceof Error && transient.has(err)) },
      );
    } catch (err) {
      if (tries <= 1 || !(err instanceof RepositoryError)) throw err;
      throw new RepositoryError(`${err.message} (gave up after ${tries} tries)`, { cause: err.cause });
    }
  }
  async function get(url: string) {
    let res;
    try {
      res = await request(url, { dispatcher: agent, method: "GET" });
    } catch (cause) {
      throw new RepositoryError(`GET ${url}: ${describeError(cause)}`, { cause });
    }
    if (res.statusCode === 404) {
      await res.body.dump();
      return null;
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      const err = new RepositoryError(`GET ${url}: HTTP ${res.statusCode}`);
      if (TRANSIENT_STATUS.has(res.statusCode)) transient.add(err);
      throw err;
    }
    return res.body;
  }
  return {
    description: root,
    getBytes: (rel) =>
      retried(rel, async (url) => {
        const body = await get(url);
        if (body === null) return null;
        try {
          return Buffer.from(await body.arrayBuffer());
        } catch (cause) {
          throw new RepositoryError(`GET ${url}: ${describeError(cause)}`, { cause });
        }
      }),
    getStream: (rel) => retried(rel, get),
    async close() {
      await agent.close();
    },
  };
}
