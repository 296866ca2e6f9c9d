import { createReadStream, writeFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { RepositoryError } from "../errors.js";
import { spoolBody } from "./spool-body.js";
import type { ContentStore, FileContent, HashAlgorithm, ObjectSuffix } from "../content/content-store.js";

/**
 * The content store of a one-off `convert --sandbox`: every file body lands once, as it is, in a
 * staging directory on the sandbox's own filesystem, under a name of its own (`s<n>`: no hashing,
 * no deduplication, nothing kept afterwards). The materialiser then *moves* each staged file to
 * its place in the sandbox (a new name, no byte written twice) and copies only when a second,
 * separate file of the tree shares the staged object. Whatever a later layer replaced or whited
 * out is left in the staging directory and goes with it (`dispose`).
 *
 * The `hash` of a staged file is its staging name, not a content hash: like the plain store,
 * never hand this store to the catalog writer, a publisher or the layer cache.
 */

export class StagingContentStore implements ContentStore {
  readonly hashAlgorithm: HashAlgorithm = "sha1";
  /** Marks a store whose objects the materialiser may move into the sandbox. */
  readonly stagedObjects = true;
  private seq = 0;
  private readonly staged = new Set<string>();

  private constructor(readonly dir: string) {}

  /** A new, empty staging directory `dir` (it must not exist). */
  static async create(dir: string): Promise<StagingContentStore> {
    await mkdir(dir, { mode: 0o700 });
    return new StagingContentStore(dir);
  }

  objectPath(hash: string, _suffix: ObjectSuffix): string {
    return join(this.dir, hash);
  }

  async putFile(body: Readable | AsyncIterable<Uint8Array>): Promise<FileContent> {
    const name = `s${this.seq++}`;
    const path = this.objectPath(name, "");
    const spooled = await spoolBody(body as AsyncIterable<Uint8Array>, () => path);
    // Synchronously: for a small file, open+write+close on the calling thread costs a fraction
    // of three thread-pool round trips (measured: about a quarter, on tmpfs).
    if (spooled.bytes !== undefined) writeFileSync(path, spooled.bytes, { mode: 0o600, flag: "wx" });
    this.staged.add(name);
    return { size: spooled.size, hash: name };
  }

  async putBuffer(bytes: Uint8Array, _suffix: ObjectSuffix): Promise<string> {
    const name = `s${this.seq++}`;
    await writeFile(this.objectPath(name, ""), bytes, { mode: 0o600, flag: "wx" });
    this.staged.add(name);
    return name;
  }

  async has(hash: string, _suffix: ObjectSuffix): Promise<boolean> {
    return this.staged.has(hash);
  }

  readFile(content: FileContent): Readable {
    if (content.hash === null || !this.staged.has(content.hash)) {
      throw new RepositoryError(`staging store: no staged file for ${content.hash ?? "chunked content"}`);
    }
    return createReadStream(this.objectPath(content.hash, ""), { highWaterMark: 1 << 20 });
  }

  /** Remove the staging directory and whatever is still in it. */
  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Whether the materialiser may move `store`'s objects into the sandbox instead of copying them. */
export function hasStagedObjects(store: ContentStore): store is StagingContentStore {
  return (store as { stagedObjects?: unknown }).stagedObjects === true;
}
