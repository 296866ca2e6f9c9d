/**
 * An HTTP proxy on 127.0.0.1 in front of a test registry that misbehaves on purpose, per rule:
 * corrupts one byte of a body, drops the connection half-way, answers 429/503 (with Retry-After),
 * redirects blob GETs to a "blob storage" server on another host (127.0.0.2), hides the
 * Docker-Content-Digest header, ignores Range, or paginates tag lists (`n`, `last`, `Link`) the
 * way Docker Hub does (distribution 2.8 returns every tag at once). It records every request it
 * sees, on both hosts, with arrival time, so tests can assert the HTTP exchange itself.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { request } from "undici";
import type { PushTarget } from "./registry.js";

/** Which requests a rule applies to: method and a substring or pattern of the path+query. */
export interface Match {
  method?: string;
  path?: string | RegExp;
}

export type FaultRule = { match?: Match; /** Apply to this many matching requests, then stop (default: all). */ times?: number } & (
  | { kind: "corrupt-byte"; /** Byte index to flip (default: the middle of the body). */ offset?: number }
  | { kind: "drop-half" }
  | { kind: "status"; status: number; /** Retry-After value, seconds or HTTP date. */ retryAfter?: string }
  | { kind: "redirect"; /** Host of the blob storage server: "127.0.0.2" (default) or "127.0.0.1" (other port). */ }
  | { kind: "no-digest-header" }
  | { kind: "no-range" }
  | { kind: "paginate-tags" }
);

export interface RecordedRequest {
  /** "proxy" for the registry front, "storage" for the redirect target. */
  server: "proxy" | "storage";
  method: string;
  /** Path and query as received. */
  path: string;
  /** Lower-case request headers as received (tests check Authorization is dropped across hosts). */
  headers: Record<string, string>;
  /** Arrival, ms since the epoch (fractional). */
  time: number;
  /** Status answered, once known. */
  status?: number;
  /** The rule kind that fired, if any. */
  fault?: FaultRule["kind"];
}

export interface FaultyProxy extends PushTarget {
  /** Blob storage origin, e.g. `http://127.0.0.2:PORT`. */
  readonly storageUrl: string;
  readonly requests: RecordedRequest[];
  /** Most requests the proxy had open at once (both hosts) since start or reset(). */
  readonly maxInFlight: number;
  /** Replace the rules (counters restart). */
  setRules(rules: FaultRule[]): void;
  /** Forget recorded requests. */
  reset(): void;
  stop(): Promise<void>;
}

const HOP = new Set(["host", "connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"]);

function matches(m: Match | undefined, req: IncomingMessage): boolean {
  if (!m) return true;
  if (m.method && m.method !== req.method) return false;
  const path = req.url ?? "";
  if (typeof m.path === "string" && !path.includes(m.path)) return false;
  if (m.path instanceof RegExp && !m.path.test(path)) return false;
  return true;
}

function flatHeaders(h: IncomingMessage["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

class FlipByte extends Transform {
  private seen = 0;
  constructor(private readonly at: number) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    if (this.at >= this.seen && this.at < this.seen + chunk.length) {
      chunk = Buffer.from(chunk);
      chunk[this.at - this.seen] = (chunk[this.at - this.seen] ?? 0) ^ 0xff;
    }
    this.seen += chunk.length;
    done(null, chunk);
  }
}

/**
 * Start a proxy in front of `upstream` (a TestRegistry). `upstream.authorization` is what the
 * storage server uses to read blobs it serves after a redirect.
 */
export async function startFaultyProxy(upstream: PushTarget, rules: FaultRule[] = [], options: { storageHost?: string } = {}): Promise<FaultyProxy> {
  let active = rules.map((r) => ({ rule: r, left: r.times ?? Infinity }));
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const track = (res: ServerResponse): void => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once("close", () => void inFlight--);
  };
  let proxyOrigin = "";
  let storageOrigin = "";

  function take(req: IncomingMessage, kinds: FaultRule["kind"][]): FaultRule | undefined {
    for (const a of active) {
      if (a.left > 0 && kinds.includes(a.rule.kind) && matches(a.rule.match, req)) {
        a.left--;
        return a.rule;
      }
    }
    return undefined;
  }

  async function forward(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, path: string, extraAuth?: string): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(flatHeaders(req.headers))) if (!HOP.has(k)) headers[k] = v;
    if (extraAuth) headers["authorization"] = extraAuth;
    const noRange = rec.server === "proxy" ? take(req, ["no-range"]) : undefined;
    if (noRange) {
      delete headers["range"];
      rec.fault = "no-range";
    }
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const up = await request(`${upstream.url}${path}`, {
      method: req.method as "GET",
      headers,
      ...(hasBody ? { body: req } : {}),
    });
    const outHeaders: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP.has(k)) outHeaders[k] = v;
    if (typeof outHeaders["location"] === "string") outHeaders["location"] = outHeaders["location"].replace(upstream.url, proxyOrigin);
    const fault = rec.server === "proxy" && up.statusCode < 300 ? take(req, ["corrupt-byte", "drop-half", "no-digest-header"]) : undefined;
    if (fault?.kind === "no-digest-header") delete outHeaders["docker-content-digest"];
    rec.status = up.statusCode;
    if (fault) rec.fault = fault.kind;
    res.writeHead(up.statusCode, outHeaders);
    if (req.method === "HEAD") {
      await up.body.dump();
      res.end();
      return;
    }
    const length = Number(up.headers["content-length"] ?? 0);
    if (fault?.kind === "drop-half") {
      let sent = 0;
      const half = Math.floor(length / 2);
      for await (const chunk of up.body) {
        const c = chunk as Buffer;
        const n = Math.min(c.length, half - sent);
        if (n > 0) res.write(c.subarray(0, n));
        sent += n;
        if (sent >= half) break;
      }
      await new Promise((r) => setTimeout(r, 20));
      res.destroy();
      up.body.destroy();
      return;
    }
    if (fault?.kind === "corrupt-byte") {
      await pipeline(up.body, new FlipByte(fault.offset ?? Math.floor(length / 2)), res);
      return;
    }
    await pipeline(up.body, res);
  }

  async function paginateTags(req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): Promise<void> {
    const url = new URL(req.url ?? "/", proxyOrigin);
    const headers: Record<string, string> = {};
    if (req.headers.authorization) headers["authorization"] = req.headers.authorization;
    const up = await request(`${upstream.url}${url.pathname}`, { headers });
    rec.status = up.statusCode;
    if (up.statusCode !== 200) {
      res.writeHead(up.statusCode, flatHeaders(up.headers as IncomingMessage["headers"]));
      await pipeline(up.body, res);
      return;
    }
    const body = (await up.body.json()) as { name: string; tags: string[] };
    const all = [...body.tags].sort();
    const last = url.searchParams.get("last");
    const n = Number(url.searchParams.get("n") ?? 100);
    const from = last ? all.findIndex((t) => t > last) : 0;
    const page = from < 0 ? [] : all.slice(from, from + n);
    const out: Record<string, string> = { "content-type": "application/json" };
    if (from >= 0 && from + n < all.length) {
      out["link"] = `<${url.pathname}?n=${n}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"`;
    }
    rec.fault = "paginate-tags";
    res.writeHead(200, out);
    res.end(JSON.stringify({ name: body.name, tags: page }));
  }

  const proxy: Server = createServer((req, res) => {
    const rec: RecordedRequest = { server: "proxy", method: req.method ?? "GET", path: req.url ?? "/", headers: flatHeaders(req.headers), time: performance.timeOrigin + performance.now() };
    requests.push(rec);
    track(res);
    void (async () => {
      const status = take(req, ["status"]);
      if (status?.kind === "status") {
        rec.status = status.status;
        rec.fault = "status";
        await req.resume();
        res.writeHead(status.status, {
          "content-type": "application/json",
          ...(status.retryAfter !== undefined ? { "retry-after": status.retryAfter } : {}),
        });
        res.end(JSON.stringify({ errors: [{ code: status.status === 429 ? "TOOMANYREQUESTS" : "UNAVAILABLE", message: "injected fault" }] }));
        return;
      }
      if (req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "") && take(req, ["redirect"])) {
        rec.status = 307;
        rec.fault = "redirect";
        res.writeHead(307, { location: `${storageOrigin}/storage${req.url}?X-Signature=abc` });
        res.end();
        return;
      }
      if (req.method === "GET" && /\/tags\/list/.test(req.url ?? "") && take(req, ["paginate-tags"])) {
        await paginateTags(req, res, rec);
        return;
      }
      await forward(req, res, rec, req.url ?? "/");
    })().catch(() => res.destroy());
  });

  const storage: Server = createServer((req, res) => {
    const rec: RecordedRequest = { server: "storage", method: req.method ?? "GET", path: req.url ?? "/", headers: flatHeaders(req.headers), time: performance.timeOrigin + performance.now() };
    requests.push(rec);
    track(res);
    const path = new URL(req.url ?? "/", storageOrigin).pathname.replace(/^\/storage/, "");
    const repository = path.replace(/^\/v2\//, "").replace(/\/blobs\/.*$/, "");
    // Storage URLs are pre-signed: the client's own Authorization must not reach this host.
    if (req.headers.authorization) {
      rec.status = 400;
      res.writeHead(400).end("unexpected Authorization header");
      return;
    }
    void forward(req, res, rec, path, upstream.authorization(repository)).catch(() => res.destroy());
  });

  const storageHost = options.storageHost ?? "127.0.0.2";
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  await new Promise<void>((r) => storage.listen(0, storageHost, r));
  const port = (proxy.address() as AddressInfo).port;
  proxyOrigin = `http://127.0.0.1:${port}`;
  storageOrigin = `http://${storageHost}:${(storage.address() as AddressInfo).port}`;
  return {
    url: proxyOrigin,
    host: `127.0.0.1:${port}`,
    storageUrl: storageOrigin,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    authorization: (repository) => upstream.authorization(repository),
    setRules(next) {
      active = next.map((r) => ({ rule: r, left: r.times ?? Infinity }));
    },
    reset() {
      requests.length = 0;
      maxInFlight = inFlight;
    },
    async stop() {
      for (const s of [proxy, storage]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}
