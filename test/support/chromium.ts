/**
 * Debian's Chromium, driven by puppeteer-core (which downloads no browser), for the tests and the
 * benchmark of the status page: headless, no sandbox (tests run as root), nothing that talks to
 * the network on its own, a fresh profile each launch (removed by `close()`). And a static file
 * server on 127.0.0.1 that records every request, to check a page asks for nothing but itself.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";

export const CHROMIUM = "/usr/bin/chromium";

export interface Chromium {
  browser: Browser;
  close(): Promise<void>;
}

/** Launch Chromium headless with a fresh profile; a page can turn JavaScript off with `setJavaScriptEnabled(false)`. */
export async function launchChromium(): Promise<Chromium> {
  const profile = await mkdtemp(join(tmpdir(), "cis-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Where a person finds what a test saved for them to look at (screenshots). */
export function testOutputDir(...parts: string[]): string {
  return join(process.env["CIS_TEST_OUTPUT"] ?? join(tmpdir(), "cvmfs-image-sync-test-output"), ...parts);
}

export interface StaticServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Every request's path, in order. */
  requests: string[];
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".json": "application/json", ".png": "image/png" };

/** Serve `dir` read-only on 127.0.0.1 (a free port); anything outside it or missing is a 404. */
export async function serveDirectory(dir: string): Promise<StaticServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    requests.push(path);
    const file = normalize(join(dir, path.endsWith("/") ? `${path}index.html` : path));
    if (!file.startsWith(dir)) {
      res.writeHead(404).end();
      return;
    }
    stat(file).then(
      (s) => {
        if (!s.isFile()) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": s.size });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
