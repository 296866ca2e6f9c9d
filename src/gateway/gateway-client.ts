import { hostname as osHostname } from "node:os";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { request, type Dispatcher } from "undici";
import type { z } from "zod";
import { describeError, GatewayBusyError, GatewayError } from "../errors.js";
import { debug, silentLogger, warn, type Logger } from "../logger.js";
import { connectionFailure, RETRY_DEFAULTS, withRetries, type RetryPolicy } from "../retry.js";
import { parseGoDuration } from "./go-duration.js";
import type { GatewayKey } from "./key-file.js";
import { packHeader, packStream, payloadMessage, splitIntoPacks, type PackFileObject } from "./object-pack.js";
import { CommitReply, LeaseReply, StatusReply } from "./schema.js";

/** Options of {@link GatewayClient}. */
export interface GatewayClientOptions {
  /** The API root, e.g. `http://gw.example.org:4929/api/v1`. */
  url: string;
  /** The publisher's key; only its signatures go on the wire. */
  key: GatewayKey;
  logger?: Logger;
  /** undici dispatcher (connection pool); the global one by default. */
  dispatcher?: Dispatcher;
  /** Retries of a request the connection failed (the registry client's policy by default). */
  retry?: RetryPolicy;
  /** The gateway's `max_lease_time` in ms (default 2 h): retries under a lease never wait past it. */
  leaseTimeMs?: number;
}

/** Options of {@link GatewayClient.acquire}. */
export interface AcquireOptions {
  /** Sent as `hostname`; the local host name by default. */
  hostname?: string;
  /** How long to keep retrying while the path is busy, in ms (default 10 minutes). */
  waitMs?: number;
  /** First and largest pause between busy retries, in ms (defaults 1 s and 30 s); jittered. */
  minDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
}

/** Limits of {@link GatewayClient.upload}; defaults are the stock client's. */
export interface UploadOptions {
  maxPackBytes?: number;
  maxObjects?: number;
  signal?: AbortSignal;
  /** Called after each pack is accepted. */
  onPack?: (objects: number, bytes: number) => void;
}

/** What to commit: both root hashes *with* their `C` suffix (§8.3). */
export interface CommitOptions {
  oldRootHash: string;
  newRootHash: string;
  tagName?: string;
  tagDescription?: string;
  signal?: AbortSignal;
}

const MAX_REPLY_BYTES = 1 << 20;
/**
 * Answers of a proxy in front of a gateway that is restarting or overloaded, and whether the
 * request may still have reached the gateway: 502/503 say it did not, 504 (a timeout) that it may.
 */
const TRANSIENT_STATUS = new Map<number, "unsent" | "dropped">([
  [502, "unsent"],
  [503, "unsent"],
  [504, "dropped"],
]);

/** Which requests may be repeated after a connection broke once they may have arrived. */
type Repeat = "unsent-only" | "always";

/**
 * A client of the CVMFS gateway API (cvmfs-formats.md §5, §8): lease, payloads, commit, drop.
 * Every call signs with the key's HMAC and never logs the secret. Replies are parsed from text
 * whatever their Content-Type (the gateway says `text/plain`). Refusals raise GatewayError with
 * the gateway's own `reason`; a lease that stays busy past the wait raises GatewayBusyError.
 *
 * A gateway that blinks (a restart, a proxy answering 502–504) is ridden out: a request whose
 * connection failed is tried again with the shared backoff (src/retry.ts), never past the
 * lease's lifetime. Taking a lease and committing are repeated only when the connection failed
 * before the request left, since a second lease or commit is not harmless; payloads, drops and
 * everything else also after a dropped connection. Every error names the method and the URL.
 */
export class GatewayClient {
  private readonly base: string;
  private readonly logger: Logger;
  /** When each lease this client holds expires at the latest (epoch ms). */
  private readonly leaseExpiry = new Map<string, number>();

  constructor(private readonly opts: GatewayClientOptions) {
    this.base = opts.url.replace(/\/+$/, "");
    this.logger = opts.logger ?? silentLogger;
  }

  /**
   * Take a lease on `<fqrn>/<subpath>` and return its session token. While the path is busy,
   * waits (exponential backoff with full jitter, never longer than the time the gateway says the
   * other lease has left) until `waitMs` has passed.
   */
  async acquire(fqrn: string, subpath: string, opts: AcquireOptions = {}): Promise<string> {
    const path = `${fqrn}/${subpath.replace(/^\/+/, "")}`;
    const body = JSON.stringify({ path, api_version: "2", hostname: opts.hostname ?? osHostname() });
    const deadline = Date.now() + (opts.waitMs ?? 600_000);
    let delay = opts.minDelayMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      const taken = Date.now();
      const reply = await this.call("POST", "/leases", LeaseReply, { body: () => body, message: body, signal: opts.signal, repeat: "unsent-only" });
      if (reply.status === "ok") {
        this.leaseExpiry.set(reply.session_token, taken + (this.opts.leaseTimeMs ?? 7200_000));
        debug(this.logger, "gateway.lease", `lease taken on ${path}`, { path });
        return reply.session_token;
      }
      if (reply.status === "error") throw new GatewayError(`acquire lease on ${path}: ${reply.reason}`, reply.reason);
      const remaining = typeof reply.time_remaining === "number" ? reply.time_remaining * 1000 : parseGoDuration(reply.time_remaining ?? "");
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new GatewayBusyError(`acquire lease on ${path}: path busy after ${attempt} attempt(s)`, "path_busy");
      }
      const cap = Math.min(delay, remaining !== undefined && remaining > 0 ? remaining + 100 : delay, left);
      const wait = Math.max(50, Math.random() * cap);
      debug(this.logger, "gateway.busy", `${path} is busy, retrying in ${Math.round(wait)} ms`, { path, attempt });
      await sleep(wait, undefined, { signal: opts.signal });
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 30_000);
    }
  }

  /**
   * Upload objects in as many packs as the limits need (legacy `POST /payloads`, the token in
   * the JSON message). Each pack streams from the object files.
   */
  async upload(token: string, objects: readonly PackFileObject[], opts: UploadOptions = {}): Promise<{ packs: number; bytes: number }> {
    let bytes = 0;
    const packs = splitIntoPacks(objects, { maxBytes: opts.maxPackBytes, maxObjects: opts.maxObjects });
    for (const pack of packs) {
      const n = await this.submitPayload(token, pack, opts.signal);
      bytes += n;
      opts.onPack?.(pack.length, n);
    }
    return { packs: packs.length, bytes };
  }

  /** Send one pack; returns the body's byte count. */
  async submitPayload(token: string, objects: readonly PackFileObject[], signal?: AbortSignal): Promise<number> {
    const header = packHeader(objects);
    const message = Buffer.from(payloadMessage(header, token), "utf8");
    const length = message.length + header.length + objects.reduce((n, o) => n + o.size, 0);
    // A fresh stream per try: a retried payload is sent whole again.
    const body = () =>
      Readable.from(
        (async function* () {
          yield message;
          yield* packStream(header, objects);
        })(),
        { objectMode: false },
      );
    const reply = await this.call("POST", "/payloads", StatusReply, {
      body,
      message,
      signal,
      headers: { "message-size": String(message.length), "content-length": String(length) },
      repeat: "always",
      deadline: this.leaseExpiry.get(token),
    });
    if (reply.status !== "ok") throw new GatewayError(`submit payload of ${objects.length} object(s): ${reply.reason}`, reply.reason);
    return length;
  }

  /** Commit the lease; returns `final_revision`. The gateway deletes the lease on success. */
  async commit(token: string, c: CommitOptions): Promise<number> {
    const body = JSON.stringify({
      old_root_hash: c.oldRootHash,
      new_root_hash: c.newRootHash,
      tag_name: c.tagName ?? "",
      tag_description: c.tagDescription ?? "",
      tag_channel: 0,
    });
    const reply = await this.call("POST", `/leases/${token}`, CommitReply, {
      body: () => body,
      message: token,
      signal: c.signal,
      repeat: "unsent-only",
      deadline: this.leaseExpiry.get(token),
    });
    if (reply.status !== "ok") throw new GatewayError(`commit: ${reply.reason}`, reply.reason);
    this.leaseExpiry.delete(token);
    return reply.final_revision;
  }

  /** Drop (cancel) the lease. */
  async drop(token: string, signal?: AbortSignal): Promise<void> {
    const reply = await this.call("DELETE", `/leases/${token}`, StatusReply, { message: token, signal, repeat: "always", deadline: this.leaseExpiry.get(token) });
    this.leaseExpiry.delete(token);
    if (reply.status !== "ok") throw new GatewayError(`drop lease: ${reply.reason}`, reply.reason);
  }

  private async call<T extends z.ZodType>(
    method: "GET" | "POST" | "DELETE",
    route: string,
    schema: T,
    o: {
      body?: () => string | Readable;
      message: string | Uint8Array;
      headers?: Record<string, string>;
      signal?: AbortSignal;
      repeat: Repeat;
      /** No retry pause ends after this (the lease's expiry). */
      deadline?: number | undefined;
    },
  ): Promise<z.infer<T>> {
    // The session token is a credential: it never appears in a message.
    const what = `${method} ${this.base}${route.replace(/\/leases\/.+$/, "/leases/<token>")}`;
    const transient = new WeakMap<Error, "unsent" | "dropped">();
    let tries = 0;
    try {
      return await withRetries(
        (n) => {
          tries = n;
          return this.once(method, route, schema, what, o, transient);
        },
        {
          policy: this.opts.retry ?? RETRY_DEFAULTS,
          retryable: (err) => {
            const failed = connectionFailure(err) ?? (err instanceof Error ? transient.get(err) : undefined);
            return failed === "unsent" || (failed === "dropped" && o.repeat === "always");
          },
          ...(o.deadline !== undefined ? { deadline: o.deadline } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          onRetry: (err, attempt, delayMs) =>
            warn(this.logger, "gateway.retry", `${(err as Error).message}; retrying in ${delayMs} ms`, { attempt, delayMs }),
        },
      );
    } catch (err) {
      if (tries <= 1 || !(err instanceof GatewayError)) throw err;
      throw new GatewayError(`${err.message} (gave up after ${tries} tries)`, err.reason, { cause: err.cause });
    }
  }

  /** One exchange: connection failures and unreadable replies become GatewayError naming `what`. */
  private async once<T extends z.ZodType>(
    method: "GET" | "POST" | "DELETE",
    route: string,
    schema: T,
    what: string,
    o: { body?: () => string | Readable; message: string | Uint8Array; headers?: Record<string, string>; signal?: AbortSignal },
    transient: WeakMap<Error, "unsent" | "dropped">,
  ): Promise<z.infer<T>> {
    let status: number;
    let text: string;
    try {
      const res = await request(`${this.base}${route}`, {
        method,
        body: o.body?.(),
        signal: o.signal,
        dispatcher: this.opts.dispatcher,
        headers: { authorization: this.opts.key.authorization(o.message), "content-type": "application/json", ...o.headers },
      });
      status = res.statusCode;
      text = await readCapped(res.body);
    } catch (cause) {
      if (o.signal?.aborted) throw cause;
      throw new GatewayError(`${what}: ${describeError(cause)}`, undefined, { cause });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // Some refusals are plain text with a 4xx/5xx status, e.g. HTTP 500 "invalid lease".
      const err = new GatewayError(`${what}: HTTP ${status}: ${text.trim().slice(0, 200)}`, text.trim().slice(0, 200));
      const kind = TRANSIENT_STATUS.get(status);
      if (kind !== undefined) transient.set(err, kind);
      throw err;
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new GatewayError(`${what}: unexpected reply ${text.slice(0, 200)}`);
    return parsed.data;
  }
}

async function readCapped(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    if (n < MAX_REPLY_BYTES) parts.push(Buffer.from(chunk));
    n += chunk.length;
  }
  return Buffer.concat(parts).subarray(0, MAX_REPLY_BYTES).toString("utf8");
}
