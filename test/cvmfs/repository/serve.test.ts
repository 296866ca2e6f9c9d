import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRepositoryServer, type RepositoryServer } from "../../../src/cvmfs/repository/serve.js";

describe("createRepositoryServer", () => {
  let dir: string;
  let server: RepositoryServer;
  const apiCalls: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "serve-test-"));
    await mkdir(join(dir, "data", "ab"), { recursive: true });
    await mkdir(join(dir, "data", "txn"), { recursive: true });
    await writeFile(join(dir, ".cvmfspublished"), "Cabc\n--\nsig");
    await writeFile(join(dir, ".cvmfs_status.json"), "{}");
    await writeFile(join(dir, "data", "ab", "cdefC"), Buffer.from([1, 2, 3]));
    await writeFile(join(dir, "data", "txn", "tmp"), "partial");
    await writeFile(join(dir, ".cvmfs_publish.lock"), "1 host\n");
    server = await createRepositoryServer({
      dir,
      fqrn: "s.test",
      apiHandler: (req, res) => {
        apiCalls.push(`${req.method} ${req.url}`);
        res.writeHead(200, { "Content-Type": "application/json" }).end('{"welcome":"x"}');
      },
    });
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** node:http sends the path as written (undici would normalise `..` away before sending). */
  const rawStatus = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: "127.0.0.1", port: server.port, path }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });

  const get = async (path: string, method: "GET" | "HEAD" | "POST" = "GET") => {
    const res = await request(`http://127.0.0.1:${server.port}${path}`, { method });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };

  it("serves the manifest as application/x-cvmfs for 61 seconds, with no Last-Modified or ETag", async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/cvmfs/s.test`);
    const r = await get("/cvmfs/s.test/.cvmfspublished");
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("Cabc\n--\nsig");
    expect(r.headers).toMatchObject({ "content-type": "application/x-cvmfs", "cache-control": "max-age=61", "content-length": "11" });
    expect(r.headers["last-modified"]).toBeUndefined();
    expect(r.headers.etag).toBeUndefined();
    expect((await get("/cvmfs/s.test/.cvmfs_status.json")).headers["content-type"]).toBe("application/json");
  });

  it("serves objects as application/octet-stream cached for 3 days; HEAD has the length and no body", async () => {
    const r = await get("/cvmfs/s.test/data/ab/cdefC");
    expect(r.status).toBe(200);
    expect(r.body).toEqual(Buffer.from([1, 2, 3]));
    expect(r.headers).toMatchObject({ "content-type": "application/octet-stream", "cache-control": "max-age=259200" });
    const h = await get("/cvmfs/s.test/data/ab/cdefC", "HEAD");
    expect(h.status).toBe(200);
    expect(h.headers["content-length"]).toBe("3");
    expect(h.body.length).toBe(0);
  });

  it.each([
    ["a missing object", "/cvmfs/s.test/data/ab/ffff", 404],
    ["another repository", "/cvmfs/other.test/.cvmfspublished", 404],
    ["the lock file", "/cvmfs/s.test/.cvmfs_publish.lock", 404],
    ["temp files", "/cvmfs/s.test/data/txn/tmp", 404],
    ["a directory", "/cvmfs/s.test/data/ab", 404],
    ["dot-dot", "/cvmfs/s.test/data/../.cvmfspublished", 400],
    ["encoded dot-dot", "/cvmfs/s.test/data/%2e%2e/%2e%2e/etc/passwd", 400],
    ["an encoded NUL", "/cvmfs/s.test/.cvmfspublished%00", 400],
  ])("refuses %s", async (_name, path, status) => {
    expect(await rawStatus(path)).toBe(status);
  });

  it("answers 405 to writes outside the API and hands /api/v1 to the API handler", async () => {
    expect((await get("/cvmfs/s.test/.cvmfspublished", "POST")).status).toBe(405);
    const r = await get("/api/v1/leases", "POST");
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('{"welcome":"x"}');
    expect(apiCalls).toEqual(["POST /api/v1/leases"]);
  });

  it("answers 404 under /api/v1 without an API handler", async () => {
    const plain = await createRepositoryServer({ dir, fqrn: "s.test" });
    try {
      const res = await request(`http://127.0.0.1:${plain.port}/api/v1`);
      expect(res.statusCode).toBe(404);
      await res.body.dump();
    } finally {
      await plain.close();
    }
  });
});
