import { closeSync, openSync, writeSync } from "node:fs";
import { link, mkdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { debrisName } from "../debris.js";
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
 *
 * Each received chunk is written at once with a synchronous write (into the page cache) and
 * dropped: buffers that outlive an event-loop turn get promoted and cost far more in garbage
 * collection than the write itself, which is what bounded an async write queue's throughput.
 */
export async function processPayload(
  stratum0Dir: string,
  body: AsyncIterable<Uint8Array>,
  header: { headerSize: number; payloadDigest: string },
): Promise<PayloadResult> {
  const txn = join(stratum0Dir, "data", "txn");
  await mkdir(txn, { recursive: true });
  const staged: Array<{ temp: string; object: PackObject }> = [];
  let fd: number | undefined;
  try {
    const objects = await readPack(body, {
      ...header,
      open: (object) => {
        const temp = join(txn, debrisName("payload"));
        staged.push({ temp, object });
        const own = openSync(temp, "w");
        fd = own;
        return {
          write: (chunk) => {
            for (let off = 0; off < chunk.length; ) off += writeSync(own, chunk, off);
          },
          close: async () => {
            fd = undefined;
            closeSync(own);
          },
        };
      },
    });
    let stored = 0;
    let bytes = 0;
    for (const { temp, object } of staged) {
      bytes += object.size;
      if (await moveIntoPlace(stratum0Dir, temp, object.hash)) stored++;
    }
    return { objects: objects.length, stored, bytes };
  } finally {
    if (fd !== undefined) closeSync(fd);
    await Promise.all(staged.map(({ temp }) => unlink(temp).catch(() => undefined)));
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
