/**
 * Streams one blob, never holding it whole: digest and size verified while read (VerifiedReader),
 * a connection dropped mid-way resumed with `Range: bytes=N-` when the server answers 206, else
 * restarted with the bytes already delivered skipped, so the consumer sees one continuous stream.
 * A blob the registry lacks is fetched from the descriptor's `urls` (non-distributable layers).
 * Progress goes to the logger as throttled `layer.progress` events.
 */
import { addAbortSignal, type Readable } from "node:stream";
import { DigestMismatchError, RegistryError, SizeMismatchError } from "../errors.js";
import { info, warn } from "../logger.js";
import type { Descriptor } from "./image.js";
import { pullScope } from "./registry-auth.js";
import type { RegistryTransport, SendRequest, SentResponse } from "./registry-transport.js";
import { backoffDelay, sleep } from "../retry.js";
import { VerifiedReader } from "./verified-reader.js";

export interface OpenBlobOptions {
  signal?: AbortSignal;
  /** "layer sha256:…" / "config sha256:…": names the blob in errors and events. */
  what?: string;
}

/** The first response for a blob: from the registry, else from one of the descriptor's URLs. */
async function firstResponse(transport: RegistryTransport, d: Descriptor, base: SendRequest): Promise<{ res: SentResponse; req: SendRequest }> {
  try {
    return { res: await transport.send(base), req: base };
  } catch (err) {
    const missing = err instanceof RegistryError && err.details.status === 404;
    const urls = (d.urls ?? []).filter((u) => /^https?:\/\//.test(u));
    if (!missing || urls.length === 0) throw err;
    let last: unknown = err;
    for (const url of urls) {
      const req: SendRequest = { ...base, url, anonymous: true, what: `${base.what} from ${new URL(url).host}` };
      try {
        return { res: await transport.send(req), req };
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }
}

/**
 * Open `descriptor` of `repository` as a verified stream. Rejects when the first request fails
 * (missing blob, auth); later failures (digest, size, retries exhausted) error the stream.
 * The stream holds a connection until it ends: read it to the end or destroy it.
 */
export async function openBlob(transport: RegistryTransport, repository: string, descriptor: Descriptor, options: OpenBlobOptions = {}): Promise<Readable> {
  const what = options.what ?? `blob ${descriptor.digest}`;
  const { logger, retries, retryBaseMs, retryMaxMs, progressIntervalMs } = transport.options;
  const base: SendRequest = {
    method: "GET",
    url: `/v2/${repository}/blobs/${descriptor.digest}`,
    scope: pullScope(repository),
    ok: [200],
    what: `get ${what}`,
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const first = await firstResponse(transport, descriptor, base);

  async function* chunks(): AsyncGenerator<Buffer> {
    let res: SentResponse | undefined = first.res;
    let delivered = 0;
    let failures = 0;
    let lastReport = 0;
    const report = (force: boolean) => {
      const now = Date.now();
      if (!force && now - lastReport < progressIntervalMs) return;
      lastReport = now;
      info(logger, "layer.progress", `${what}: ${delivered} of ${descriptor.size} bytes`, {
        registry: transport.registry, repository, digest: descriptor.digest, bytes: delivered, total: descriptor.size,
      });
    };
    for (;;) {
      try {
        if (!res) {
          // Resume where the consumer is: 206 continues there; 200 means the server ignored
          // Range, so the whole blob comes again and what was delivered is skipped.
          res = await transport.send({ ...first.req, headers: { range: `bytes=${delivered}-` }, ok: [200, 206] });
        }
        let skip = 0;
        if (delivered > 0) {
          const range = /^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""));
          skip = res.status === 206 && range ? delivered - Number(range[1]) : delivered;
          if (skip < 0) throw new RegistryError(`${first.req.what}: server resumed past the requested offset`, { status: res.status });
        }
        for await (const raw of res.body) {
          let chunk = raw as Buffer;
          if (skip > 0) {
            const n = Math.min(skip, chunk.length);
            skip -= n;
            chunk = chunk.subarray(n);
            if (chunk.length === 0) continue;
          }
          delivered += chunk.length;
          yield chunk;
          report(false);
        }
        res = undefined;
        report(true);
        return;
      } catch (err) {
        res?.body.destroy();
        res = undefined;
        if (options.signal?.aborted) throw err;
        const error = transport.wrap(err, first.req);
        failures++;
        if (!error.retryable || failures > retries) throw error;
        const delay = backoffDelay(failures, retryBaseMs, retryMaxMs);
        warn(logger, "registry.retry", `${what}: interrupted after ${delivered} bytes (${error.message}); resuming in ${delay} ms`, {
          registry: transport.registry, digest: descriptor.digest, attempt: failures, delayMs: delay, offset: delivered, reason: "interrupted",
        });
        await sleep(delay, options.signal);
      } finally {
        // Runs when the consumer stops early, too: release the connection.
        if (res) res.body.destroy();
      }
    }
  }

  // The verified reader is the only stream layer: the loop below writes into it and waits for
  // 'drain', so backpressure reaches the socket and nothing piles up in memory.
  const verified = new VerifiedReader(descriptor.digest, descriptor.size, what);
  if (options.signal) addAbortSignal(options.signal, verified);
  const source = chunks();
  let closed = false;
  verified.once("close", () => {
    closed = true;
    void source.return(undefined);
  });
  void (async () => {
    try {
      for await (const chunk of source) {
        if (closed) return;
        if (!verified.write(chunk)) {
          await new Promise<void>((resolve) => {
            const go = () => {
              verified.off("drain", go);
              verified.off("close", go);
              resolve();
            };
            verified.on("drain", go);
            verified.on("close", go);
          });
        }
      }
      if (!closed) verified.end();
    } catch (err) {
      verified.destroy(err as Error);
    }
  })();
  return verified;
}

/** A small blob (a config) read whole and verified; a corrupt copy is fetched again. */
export async function readSmallBlob(transport: RegistryTransport, repository: string, descriptor: Descriptor, maxBytes: number, options: OpenBlobOptions = {}): Promise<Buffer> {
  const what = options.what ?? `blob ${descriptor.digest}`;
  if (descriptor.size > maxBytes) throw new RegistryError(`${what} is ${descriptor.size} bytes, more than the ${maxBytes} allowed`);
  for (let attempt = 1; ; attempt++) {
    try {
      const stream = await openBlob(transport, repository, descriptor, options);
      const parts: Buffer[] = [];
      for await (const chunk of stream) parts.push(chunk as Buffer);
      return Buffer.concat(parts);
    } catch (err) {
      const corrupt = err instanceof DigestMismatchError || err instanceof SizeMismatchError;
      if (!corrupt || attempt > transport.options.retries) throw err;
      warn(transport.options.logger, "registry.retry", `${what}: ${(err as Error).message}; fetching again`, {
        registry: transport.registry, digest: descriptor.digest, attempt, reason: "corrupt",
      });
    }
  }
}
