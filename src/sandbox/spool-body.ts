import { open, rm, type FileHandle } from "node:fs/promises";

/** Bodies up to this size are kept in memory and written with one call. */
export const SMALL_FILE = 256 * 1024;

/** A body read to its end: its bytes in memory, or (past SMALL_FILE) in the file at `path`. */
export type SpooledBody = { size: number; bytes: Buffer; path?: undefined } | { size: number; bytes?: undefined; path: string };

/**
 * Read a file body to its end. Most image files are small: they stay in memory, for the caller
 * to write with one call (or not at all). A body that outgrows SMALL_FILE streams from then on
 * into a new file at `spillPath()` (created exclusively, mode 0600), so a large file is never
 * held whole. `each` sees every chunk in order (to hash it). If the body fails, the spill file is
 * removed and the error is thrown.
 */
export async function spoolBody(
  body: AsyncIterable<Uint8Array>,
  spillPath: () => string,
  each?: (chunk: Uint8Array) => void,
): Promise<SpooledBody> {
  let size = 0;
  const head: Uint8Array[] = [];
  let fh: FileHandle | undefined;
  let path: string | undefined;
  try {
    for await (const chunk of body) {
      each?.(chunk);
      size += chunk.length;
      if (fh === undefined && size <= SMALL_FILE) {
        head.push(chunk);
        continue;
      }
      if (fh === undefined) {
        path = spillPath();
        fh = await open(path, "wx", 0o600);
        for (const part of head) await writeAll(fh, part);
        head.length = 0;
      }
      await writeAll(fh, chunk);
    }
  } catch (err) {
    await fh?.close();
    if (path !== undefined) await rm(path, { force: true });
    throw err;
  }
  if (fh !== undefined && path !== undefined) {
    await fh.close();
    return { size, path };
  }
  return { size, bytes: head.length === 1 ? Buffer.from(head[0]!.buffer, head[0]!.byteOffset, head[0]!.byteLength) : Buffer.concat(head) };
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
}
