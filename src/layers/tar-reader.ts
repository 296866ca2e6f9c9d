import { Readable } from "node:stream";
import { LayerError } from "../errors.js";
import { BLOCK, applyExtensions, decodeHeader, decodePaxRecords, isZeroBlock, type TarHeader } from "./tar-header.js";

/** pax and GNU long-name records larger than this are refused (a hostile archive could ask for gigabytes). */
const MAX_EXTENSION_SIZE = 1 << 20;

/** One tar entry. Its body is streamed: never whole in memory. */
export interface TarEntry {
  header: TarHeader;
  /**
   * The body (`header.size` bytes) as a stream. Call at most once, synchronously, before asking
   * the reader for the next entry; the reader then waits until the stream has ended (or was
   * destroyed) before it moves on. An entry whose body is not taken is skipped.
   */
  body(): Readable;
}

/** Pulls byte ranges from an async iterable of chunks without copying when it can. */
class ByteSource {
  private chunk: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(private readonly iter: AsyncIterator<Buffer | Uint8Array>) {}

  private async fill(): Promise<boolean> {
    while (this.chunk.length === 0) {
      if (this.done) return false;
      const next = await this.iter.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      const v = next.value;
      this.chunk = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
    return true;
  }

  /** Up to `max` bytes (at least one), or null at the end of the input. */
  async some(max: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    const out = this.chunk.subarray(0, max);
    this.chunk = this.chunk.subarray(out.length);
    return out;
  }

  /** Exactly `n` bytes, or fewer only at the end of the input. */
  async exact(n: number): Promise<Buffer> {
    const first = await this.some(n);
    if (first === null || first.length === n) return first ?? Buffer.alloc(0);
    const parts = [first];
    let have = first.length;
    while (have < n) {
      const more = await this.some(n - have);
      if (more === null) break;
      parts.push(more);
      have += more.length;
    }
    return Buffer.concat(parts, have);
  }

  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const part = await this.some(left);
      if (part === null) break;
      left -= part.length;
    }
    return n - left;
  }
}

/**
 * Read a tar stream (ustar, pax, GNU) entry by entry. Extension records (pax `x`/`g`, GNU `L`/`K`)
 * are folded into the following entry's header and never yielded. Ends at the first zero block or
 * at the end of input; a truncated body or header throws `LayerError`.
 */
export async function* readTar(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<TarEntry> {
  const src = new ByteSource(source[Symbol.asyncIterator]());
  let globalPax: Map<string, Buffer> | undefined;
  let pax: Map<string, Buffer> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;

  const readExtension = async (size: number, what: string): Promise<Buffer> => {
    if (size > MAX_EXTENSION_SIZE) throw new LayerError(`tar ${what} record of ${size} bytes is too large`);
    const data = await src.exact(size);
    if (data.length < size) throw new LayerError(`tar stream truncated in a ${what} record`);
    await src.skip(padding(size));
    return data;
  };

  for (;;) {
    const block = await src.exact(BLOCK);
    if (block.length === 0) return; // no end marker: tolerated, as GNU tar does
    if (block.length < BLOCK) throw new LayerError("tar stream truncated in a header");
    if (isZeroBlock(block)) return;
    const raw = decodeHeader(block);

    switch (raw.typeflag) {
      case "x":
        pax = decodePaxRecords(await readExtension(raw.size, "pax"));
        continue;
      case "g":
        globalPax = new Map([...(globalPax ?? []), ...decodePaxRecords(await readExtension(raw.size, "pax global"))]);
        continue;
      case "L":
        longName = nulTerminated(await readExtension(raw.size, "GNU long name"));
        continue;
      case "K":
        longLink = nulTerminated(await readExtension(raw.size, "GNU long link"));
        continue;
    }

    const header = applyExtensions(raw, { pax, globalPax, longName, longLink });
    pax = longName = longLink = undefined;
    // Only regular files carry data in a layer; other types' sizes are skipped whatever they say.
    const size = header.size;
    let taken: Readable | undefined;
    let remaining = size;
    // The pull a body's read() has in flight: the reader must not touch the source meanwhile.
    let inflight: Promise<unknown> = Promise.resolve();
    const entry: TarEntry = {
      header,
      body() {
        if (taken) throw new LayerError(`tar entry "${header.name}": body taken twice`);
        taken = new Readable({
          highWaterMark: 1 << 20,
          read() {
            if (remaining === 0) {
              this.push(null);
              return;
            }
            inflight = src.some(Math.min(remaining, 1 << 20)).then(
              (chunk) => {
                if (chunk === null) {
                  this.destroy(new LayerError(`tar stream truncated in the body of "${header.name}"`));
                  return;
                }
                remaining -= chunk.length;
                this.push(chunk);
                if (remaining === 0) this.push(null);
              },
              (err: unknown) => this.destroy(err as Error),
            );
          },
        });
        // The reader reports a failed body itself (`body.errored`, below), whoever destroyed it:
        // a consumer that gives up must not turn that into an uncaught 'error' event.
        taken.on("error", () => undefined);
        return taken;
      },
    };
    yield entry;
    if (taken !== undefined) {
      const body = taken;
      if (!body.destroyed && !body.readableEnded) {
        await new Promise<void>((resolve) => {
          body.once("end", resolve);
          body.once("close", resolve);
        });
      }
      await inflight;
      // A failure mid-read is re-raised here so the layer does not go on with a half-read archive.
      if (body.errored) throw new LayerError(`tar entry "${header.name}": reading the body failed`, { cause: body.errored });
    }
    if (remaining > 0 && (await src.skip(remaining)) < remaining) {
      throw new LayerError(`tar stream truncated in the body of "${header.name}"`);
    }
    remaining = 0;
    await src.skip(padding(size));
  }
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function nulTerminated(data: Buffer): string {
  const nul = data.indexOf(0);
  return (nul === -1 ? data : data.subarray(0, nul)).toString("utf8");
}
