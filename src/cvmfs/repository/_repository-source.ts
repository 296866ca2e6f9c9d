import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Agent, request } from "undici";
import { RepositoryError } from "../../errors.js";

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

function httpSource(base: string): RepositorySource {
  const root = base.replace(/\/+$/, "");
  // One keep-alive pool per reader: catalogs and objects come in long runs of small requests.
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 8 });
  async function get(rel: string) {
    const url = `${root}/${rel}`;
    let res;
    try {
      res = await request(url, { dispatcher: agent, method: "GET" });
    } catch (cause) {
      throw new RepositoryError(`GET ${url}: ${(cause as Error).message}`, { cause });
    }
    if (res.statusCode === 404) {
      await res.body.dump();
      return null;
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new RepositoryError(`GET ${url}: HTTP ${res.statusCode}`);
    }
    return res.body;
  }
  return {
    description: root,
    async getBytes(rel) {
      const body = await get(rel);
      return body === null ? null : Buffer.from(await body.arrayBuffer());
    },
    getStream: get,
    async close() {
      await agent.close();
    },
  };
}

