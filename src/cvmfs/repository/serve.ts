import { open } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { RepositoryError } from "../../errors.js";

/** Options of {@link createRepositoryServer}. */
export interface RepositoryServerOptions {
  /** The stratum 0 directory (holds `.cvmfspublished` and `data/`). */
  dir: string;
  fqrn: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Receives every request under `/api/v1` (the gateway API); without it those answer 404. */
  apiHandler?: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

/** A running repository server. */
export interface RepositoryServer {
  /** `http://host:port/cvmfs/<fqrn>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Files a client or a stratum 1 may fetch; anything else in the directory (locks, temp files) stays private. */
const SERVABLE = [
  /^\.cvmfspublished$/,
  /^\.cvmfswhitelist(\.pkcs7)?$/,
  /^\.cvmfsreflog$/,
  /^\.cvmfs_master_replica$/,
  /^\.cvmfs_status\.json$/,
  /^\.cvmfsalt-[0-9a-zA-Z-]+$/,
  /^data\/[0-9a-f]{2}\/[0-9a-zA-Z-]+$/,
];

/** Headers as the `cvmfs_server` Apache configuration sets them (`cvmfs_server_apache.sh`). */
export function cacheHeaders(relPath: string): Record<string, string> {
  const name = relPath.slice(relPath.lastIndexOf("/") + 1);
  // `.cvmfs*` files change on every publish: 61 s, just above Squid's no-cache threshold.
  if (name.startsWith(".cvmfs")) {
    const type = name.endsWith(".json") ? "application/json" : "application/x-cvmfs";
    return { "Content-Type": type, "Cache-Control": "max-age=61" };
  }
  // Content-addressed objects never change: Apache's ExpiresDefault of 3 days.
  return { "Content-Type": "application/octet-stream", "Cache-Control": "max-age=259200" };
}

/**
 * Serve a stratum 0 over HTTP the way Apache does for `cvmfs_server`: `GET`/`HEAD
 * /cvmfs/<fqrn>/<path>`, with Content-Length, Content-Type and Cache-Control, no Last-Modified or
 * ETag (Squid mishandles them). Missing files and paths outside the repository layout are 404;
 * `..`, encoded slashes and NUL are refused with 400. Requests under `/api/v1` go to `apiHandler`.
 */
export async function createRepositoryServer(opts: RepositoryServerOptions): Promise<RepositoryServer> {
  const host = opts.host ?? "127.0.0.1";
  const prefix = `/cvmfs/${opts.fqrn}/`;
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy(err instanceof Error ? err : undefined);
    });
  });
  server.keepAliveTimeout = 30_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawPath = (req.url ?? "/").split("?")[0] ?? "/";
    if (rawPath === "/api/v1" || rawPath.startsWith("/api/v1/")) {
      if (opts.apiHandler) return void (await opts.apiHandler(req, res));
      return send(res, 404, "not found\n");
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      return send(res, 405, "method not allowed\n");
    }
    if (!rawPath.startsWith(prefix)) return send(res, 404, "not found\n");
    let rel: string;
    try {
      rel = decodeURIComponent(rawPath.slice(prefix.length));
    } catch {
      return send(res, 400, "bad request\n");
    }
    if (rel.includes("\0") || rel.includes("\\") || rel.split("/").some((s) => s === ".." || s === ".")) {
      return send(res, 400, "bad request\n");
    }
    if (!SERVABLE.some((re) => re.test(rel))) return send(res, 404, "not found\n");
    // Open first and stat the open file: a manifest renamed over meanwhile is still served whole.
    let fh;
    try {
      fh = await open(join(opts.dir, rel), "r");
    } catch {
      return send(res, 404, "not found\n");
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) return send(res, 404, "not found\n");
      res.writeHead(200, { ...cacheHeaders(rel), "Content-Length": String(st.size) });
      if (req.method === "HEAD") return void res.end();
      await pipeline(fh.createReadStream({ autoClose: false }), res);
    } finally {
      await fh.close();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new RepositoryError(`listen on ${host}:${opts.port ?? 0}`, { cause: err })));
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/cvmfs/${opts.fqrn}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "Content-Type": "text/plain", "Content-Length": String(Buffer.byteLength(text)) });
  res.end(text);
}
