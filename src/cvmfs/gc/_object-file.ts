import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { ObjectSuffix } from "../../content/content-store.js";
import { RepositoryError, ToolError } from "../../errors.js";
import type { LocalContentStore } from "../objects/local-content-store.js";
import { objectPath } from "../objects/hash.js";

/**
 * An object inflated into a file of its own under `dir` (a catalog or a history database, which
 * SQLite reads from a file), streamed and hash-checked on the way. The caller removes the file;
 * on failure nothing is left behind. Throws RepositoryError (or DigestMismatchError).
 */
export async function inflateToFile(store: LocalContentStore, hash: string, suffix: ObjectSuffix, dir: string): Promise<string> {
  const file = join(dir, `${hash}${suffix}.${randomBytes(4).toString("hex")}`);
  try {
    await pipeline(store.readObject(hash, suffix), createWriteStream(file));
    return file;
  } catch (cause) {
    await rm(file, { force: true });
    if (cause instanceof ToolError) throw cause;
    throw new RepositoryError(`read object ${objectPath(hash, suffix)}`, { cause });
  }
}
