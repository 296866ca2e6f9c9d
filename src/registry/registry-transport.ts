/**
 * The HTTP exchange with one registry: scheme (HTTPS unless the host is listed as insecure),
 * authentication (401 → challenge → one more try), redirects to blob storage (Authorization is
 * dropped when the origin changes; HTTPS → HTTP is refused), a cap on concurrent requests
 * (p-limit, held until response headers arrive), and retries with backoff and jitter on 5xx,
 * 429 (honouring a capped Retry-After) and connection failures. Failures become RegistryError
 * with method, redacted URL, status and the OCI `errors[].code`s of the body.
 */
import pLimit, { type LimitFunction } from "p-limit";
import { request, type Dispatcher } from "undici";
import { RegistryAuthError, RegistryError, ToolError } from "../errors.js";
import { warn } from "../logger.js";
import type { ResolvedRegistryClientOptions } from "./options.js";
import { redactUrl } from "./redact.js";
import type { RegistryAuth } from "./registry-auth.js";
import { backoffDelay, parseRetryAfter, sleep } from "../retry.js";
import { ErrorBody } from "./schema.js";

export interface SendRequest {
  method: "GET" | "HEAD";
  /** A path on the registry (`/v2/…`) or an absolute URL (Link pages, foreign layer URLs). */
  url: string;
  /** Auth scope, e.g. `repository:ns/app:pull`; undefined for none. */
  scope?: string;
  headers?: Record<string, string>;
  /** Statuses handed back instead of thrown. Default [200]. */
  ok?: readonly number[];
  /** Send no credentials at all (foreign URLs). */
  anonymous?: boolean;
  /** "get manifest ns/app:1": the verb-object of error messages. */
  what: string;
  signal?: AbortSignal;
}

export interface SentResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData["body"];
  /** The URL that answered, after redirects. */
  url: string;
}

const MAX_ERROR_BODY = 64 * 1024;

/** The Retry-After a failed response asked for, kept beside the error rather than in it. */
const retryAfterOf = new WeakMap<RegistryError, number>();

export class RegistryTransport {
  /** `https://host` or `http://host`. */
  readonly origin: string;
  private readonly limit: LimitFunction;

  constructor(
    /** Registry host as references name it (docker.io is reached at registry-1.docker.io). */
    readonly registry: string,
    readonly auth: RegistryAuth,
    readonly options: ResolvedRegistryClientOptions,
  ) {
    const apiHost = registry === "docker.io" ? "registry-1.docker.io" : registry;
    this.origin = `${options.insecureRegistries.includes(registry) ? "http" : "https"}://${apiHost}`;
    this.limit = pLimit(options.concurrency);
  }

  /** One exchange with retries. The caller must consume or dump the body of what is returned. */
  async send(req: SendRequest): Promise<SentResponse> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.limit(() => this.exchange(req));
      } catch (err) {
        if (err instanceof ToolError && !(err instanceof RegistryError)) throw err;
        if (req.signal?.aborted) throw err;
        const error = this.wrap(err, req);
        if (!error.retryable || attempt > this.options.retries || req.signal?.aborted) throw error;
        const retryAfter = retryAfterOf.get(error);
        const delay =
          retryAfter !== undefined
            ? Math.min(retryAfter, this.options.maxRetryAfterMs)
            : backoffDelay(attempt, this.options.retryBaseMs, this.options.retryMaxMs);
        warn(this.options.logger, "registry.retry", `${req.what}: ${error.message}; retrying in ${delay} ms`, {
          registry: this.registry,
          attempt,
          delayMs: delay,
          status: error.details.status,
          reason: error.details.status !== undefined ? `HTTP ${error.details.status}` : "connection",
        });
        await sleep(delay, req.signal);
      }
    }
  }

  /** Turn a network failure into a (retryable) RegistryError; RegistryErrors pass as they are. */
  wrap(err: unknown, req: Pick<SendRequest, "method" | "url" | "what">): RegistryError {
    if (err instanceof RegistryError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new RegistryError(`${req.what}: ${message}`, { method: req.method, url: redactUrl(this.resolve(req.url)) }, { cause: err });
  }

  resolve(url: string): string {
    return /^https?:\/\//.test(url) ? url : `${this.origin}${url}`;
  }

  private async exchange(req: SendRequest): Promise<SentResponse> {
    let res = await this.follow(req, req.anonymous ? undefined : await this.auth.header(req.scope, req.signal));
    if (res.status === 401 && !req.anonymous) {
      const challenge = res.headers["www-authenticate"];
      await res.body.dump();
      await this.auth.challenge(typeof challenge === "string" ? challenge : challenge?.[0], req.scope, req.signal);
      res = await this.follow(req, await this.auth.header(req.scope, req.signal));
    }
    if ((req.ok ?? [200]).includes(res.status)) return res;
    throw await this.failure(req, res);
  }

  /** Send and follow redirects; Authorization only ever goes to the registry's own origin. */
  private async follow(req: SendRequest, authorization: string | undefined): Promise<SentResponse> {
    let url = new URL(this.resolve(req.url));
    for (let hop = 0; ; hop++) {
      const sameOrigin = url.origin === this.origin;
      const headers: Record<string, string> = { "user-agent": this.options.userAgent, ...req.headers };
      if (authorization && sameOrigin) headers["authorization"] = authorization;
      const res = await request(url, {
        dispatcher: this.options.dispatcher,
        method: req.method,
        headers,
        ...(req.signal ? { signal: req.signal } : {}),
      });
      const location = res.headers["location"];
      if (res.statusCode < 300 || res.statusCode >= 400 || typeof location !== "string") {
        return { status: res.statusCode, headers: res.headers, body: res.body, url: url.toString() };
      }
      await res.body.dump();
      const next = new URL(location, url);
      if (hop >= this.options.maxRedirects) {
        throw new RegistryError(`${req.what}: more than ${this.options.maxRedirects} redirects`, { method: req.method, url: redactUrl(next) });
      }
      if (url.protocol === "https:" && next.protocol !== "https:") {
        throw new RegistryError(`${req.what}: refusing a redirect from HTTPS to ${next.protocol}`, { method: req.method, url: redactUrl(next), status: 400 });
      }
      url = next;
    }
  }

  /** The error for an unexpected status, with the OCI error codes of a (capped) body. */
  private async failure(req: SendRequest, res: SentResponse): Promise<RegistryError> {
    let text = "";
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString("utf8");
      if (text.length > MAX_ERROR_BODY) {
        res.body.destroy();
        break;
      }
    }
    let ociCodes: string[] | undefined;
    let detail = "";
    try {
      const body = ErrorBody.parse(JSON.parse(text));
      ociCodes = body.errors.map((e) => e.code);
      detail = `: ${body.errors.map((e) => `${e.code}${e.message ? ` (${e.message})` : ""}`).join(", ")}`;
    } catch {
      // not an OCI error body
    }
    const details = { method: req.method, url: redactUrl(res.url), status: res.status, ...(ociCodes ? { ociCodes } : {}) };
    const message = `${req.what}: HTTP ${res.status}${detail}`;
    if (res.status === 401 || res.status === 403) return new RegistryAuthError(message, details);
    const error = new RegistryError(message, details);
    const retryAfter = res.headers["retry-after"];
    const ms = parseRetryAfter(typeof retryAfter === "string" ? retryAfter : undefined);
    if (ms !== undefined) retryAfterOf.set(error, ms);
    return error;
  }
}
