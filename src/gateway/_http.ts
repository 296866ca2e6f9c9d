import type { IncomingMessage, ServerResponse } from "node:http";

/** Every gateway reply is `text/plain; charset=utf-8`, JSON included (cvmfs-formats.md §8.1). */
export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(text, "utf8");
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": String(body.length), ...headers });
  res.end(body);
}

/** A JSON reply with HTTP 200, as the gateway sends both successes and refusals. */
export function sendJson(res: ServerResponse, value: unknown): void {
  sendText(res, 200, JSON.stringify(value));
}

export function sendError(res: ServerResponse, reason: string): void {
  sendJson(res, { status: "error", reason });
}

/** Read a whole (small) request body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = 1 << 20): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req) {
    n += (chunk as Buffer).length;
    if (n > limit) return undefined;
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/** Read and discard what is left of a body, so the client sees the reply and not a reset. */
export async function drain(body: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of body);
}

/**
 * Split a streamed body after its first `n` bytes: returns those bytes (undefined if the body is
 * shorter), an iterable over the rest (the same underlying iterator continued), and a count of
 * the body bytes read so far. Counting here rather than in a wrapping generator saves a
 * generator hop per chunk on the payload path.
 */
export async function splitHead(
  body: AsyncIterable<Uint8Array>,
  n: number,
): Promise<{ head: Buffer | undefined; rest: AsyncIterable<Uint8Array>; received: () => number }> {
  const it = body[Symbol.asyncIterator]();
  let count = 0;
  let buf = Buffer.alloc(0);
  const received = () => count;
  while (buf.length < n) {
    const r = await it.next();
    if (r.done) return { head: undefined, rest: { [Symbol.asyncIterator]: () => it }, received };
    count += r.value.length;
    buf = Buffer.concat([buf, r.value]);
  }
  const leftover = buf.subarray(n);
  const rest: AsyncIterable<Uint8Array> = {
    async *[Symbol.asyncIterator]() {
      if (leftover.length > 0) yield leftover;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        count += r.value.length;
        yield r.value;
      }
    },
  };
  return { head: buf.subarray(0, n), rest, received };
}
