import { randomBytes } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { link, mkdir, open as openFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { parseObjectHash } from "./object-hash.js";
import { readPack, type PackObject } from "./object-pack.js";

/** What one accepted payload brought. */
export interface PayloadResult {
  objects: number;
  /** Objects not already in the store. */
  stored: number;
  /** Stored bytes of the pack's objects. */
  bytes: number;
}

/**
 * Receive one object pack into a stratum 0's `data/` (cvmfs-formats.md §5.4), stricter than the
 * real receiver (§8.2): a wrong `payload_digest`, S/N that do not add up, an object whose bytes
 * do not match its hash, or bytes after the last object reject the whole pack and store
 * nothing. Objects are written to `data/txn` while the body streams in and moved into place only
 * after the entire pack checked out; an object already present is left as it is.
 */
export async function processPayload(
  stratum0Dir: string,
  body: AsyncIterable<Uint8Array>,
  header: { headerSize: number; payloadDigest: string },
): Promise<PayloadResult> {
  const txn = join(stratum0Dir, "data", "txn");
  await mkdir(txn, { recursive: true });
  const staged: Array<{ temp: string; object: PackObject }> = [];
  const writes: Array<Promise<void>> = [];
  let open: WriteStream | undefined;
  try {
    const objects = await readPack(body, {
      ...header,
      open: (object) => {
        const temp = join(txn, `payload.${randomBytes(8).toString("hex")}`);
        staged.push({ temp, object });
        if (object.size <= WHOLE_WRITE_MAX) {
          // Small objects are written with one writev in the background while the next ones arrive.
          const parts: Buffer[] = [];
          return {
            write: (chunk) => void parts.push(chunk),
            close: async () => {
              if (writes.length >= WRITES_IN_FLIGHT) await writes.shift();
              writes.push(writeParts(temp, parts));
            },
          };
        }
        const stream = createWriteStream(temp, { highWaterMark: 4 * 1024 * 1024 });
        open = stream;
        return {
          write: async (chunk) => {
            if (!stream.write(chunk)) await once(stream, "drain");
          },
          close: async () => {
            stream.end();
            await once(stream, "close");
            open = undefined;
          },
        };
      },
    });
    await Promise.all(writes);
    let stored = 0;
    let bytes = 0;
    for (const { temp, object } of staged) {
      bytes += object.size;
      if (await moveIntoPlace(stratum0Dir, temp, object.hash)) stored++;
    }
    return { objects: objects.length, stored, bytes };
  } finally {
    await Promise.allSettled(writes);
    if (open) {
      open.destroy();
      await once(open, "close").catch(() => undefined);
    }
    await Promise.all(staged.map(({ temp }) => unlink(temp).catch(() => undefined)));
  }
}

const WHOLE_WRITE_MAX = 16 * 1024 * 1024;
const WRITES_IN_FLIGHT = 4;

async function writeParts(path: string, parts: Buffer[]): Promise<void> {
  const fh = await openFile(path, "w");
  try {
    for (let i = 0; i < parts.length; i += 512) await fh.writev(parts.slice(i, i + 512));
  } finally {
    await fh.close();
  }
}

/**
 * Hard-link the temp file to its object path: atomic, and it fails with EEXIST instead of
 * replacing an object a concurrent payload already stored. The temp name is removed afterwards.
 */
async function moveIntoPlace(stratum0Dir: string, temp: string, hashWithSuffix: string): Promise<boolean> {
  const p = parseObjectHash(hashWithSuffix)!;
  const dir = join(stratum0Dir, "data", p.hash.slice(0, 2));
  await mkdir(dir, { recursive: true });
  try {
    await link(temp, join(dir, `${p.hash.slice(2)}${p.suffix}`));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}
