/**
 * Retries with backoff, shared by every HTTP client of the tool (registry, gateway, stratum 0
 * over HTTP) so they all ride out the same blips the same way: exponential backoff with full
 * jitter (parallel workers that failed together do not retry together), or what the server asked
 * for in `Retry-After`, capped so a hostile or confused server cannot stall a run. A leaf: it
 * imports nothing of the tool, so every room may use it.
 */

/** How many further tries, and how long to pause between them. */
export interface RetryPolicy {
  /** Further tries after the first failure. */
  retries: number;
  /** First backoff step; doubles per try, full jitter. */
  baseMs: number;
  /** Largest backoff step. */
  maxMs: number;
}

/**
 * The one policy every client starts from: 4 more tries, 250 ms doubling to at most 10 s, so a
 * failing call gives up after about 2–4 s, long enough for a server restart of a second or two.
 */
export const RETRY_DEFAULTS: Readonly<RetryPolicy> = { retries: 4, baseMs: 250, maxMs: 10_000 };

/** Backoff before retry number `attempt` (1-based): random in [base·2^(a-1)/2, base·2^(a-1)], capped. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `Retry-After` in ms from `now`, or undefined when absent or unreadable. Never negative. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const when = Date.parse(text);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, when - now);
}

/** Sleep `ms`, or reject early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The connection failed before the request left: nothing reached the server. */
const UNSENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "UND_ERR_CONNECT_TIMEOUT"]);
/** The connection broke after the request may have reached the server (a restart, a stale keep-alive socket). */
const DROPPED = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/**
 * How a request failed at the connection level, looking through `cause` chains and the
 * `errors` of an AggregateError (Node tries each address of a host): `unsent` when the request
 * never left, so any request may be repeated; `dropped` when the connection broke after it may
 * have arrived, so only a request that may safely run twice should be; undefined for anything
 * else (an HTTP answer, an abort, a bug).
 */
export function connectionFailure(err: unknown): "unsent" | "dropped" | undefined {
  const seen = new Set<unknown>();
  const pending: unknown[] = [err];
  let found: "unsent" | "dropped" | undefined;
  while (pending.length > 0) {
    const e = pending.pop();
    if (e === null || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && UNSENT.has(code)) return "unsent";
    if (typeof code === "string" && DROPPED.has(code)) found = "dropped";
    pending.push((e as { cause?: unknown }).cause);
    const inner = (e as { errors?: unknown }).errors;
    if (Array.isArray(inner)) pending.push(...inner);
  }
  return found;
}

/** Options of {@link withRetries}. */
export interface RetryOptions {
  policy?: Readonly<RetryPolicy>;
  /** Whether this failure is worth another try. */
  retryable: (err: unknown) => boolean;
  /** A pause the server asked for (Retry-After), used instead of the backoff when given. */
  delayOf?: (err: unknown) => number | undefined;
  /** Epoch ms after which no pause may end (a lease's expiry): the last error is thrown instead. */
  deadline?: number;
  signal?: AbortSignal;
  /** Hears about each pause before it starts. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Run `attempt(n)` (n = 1, 2, …) until it succeeds; after a failure `retryable` approves, pause
 * and try again, at most `policy.retries` more times and never past `deadline`. The last error is
 * thrown as it is; an abort of `signal` during a pause throws the abort reason.
 */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, o: RetryOptions): Promise<T> {
  const policy = o.policy ?? RETRY_DEFAULTS;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (o.signal?.aborted || n > policy.retries || !o.retryable(err)) throw err;
      const delay = o.delayOf?.(err) ?? backoffDelay(n, policy.baseMs, policy.maxMs);
      if (o.deadline !== undefined && Date.now() + delay > o.deadline) throw err;
      o.onRetry?.(err, n, delay);
      await sleep(delay, o.signal);
    }
  }
}
