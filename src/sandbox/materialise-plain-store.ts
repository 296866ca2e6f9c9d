import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { access, mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { RepositoryError } from "../errors.js";
import type { ContentStore, FileContent, HashAlgorithm, ObjectSuffix } from "../cvmfs/content.js";

/**
 * A content store for a sandbox alone (`convert --sandbox` without publishing): objects are the
 * files' plain bytes, named by their SHA-1 like CVMFS whole-file objects but not compressed,
 * under `dir/xx/…`. CVMFS needs zlib-compressed objects; a sandbox does not, and compressing
 * every byte only to inflate it again on the way to disk is most of the work of a convert. The
 * materialiser copies these objects with copy_file_range (`copyFile`) instead of streaming them.
 * Never hand it to the catalog writer or a publisher: the objects are not CVMFS objects.
 * Keep it apart from a CVMFS store's layer cache entries by giving the convert its own cacheDir.
 */
export class PlainContentStore implements ContentStore {
  readonly hashAlgorithm: HashAlgorithm = "sha1";
  /** Marks a store whose `objectPath(hash, "")` holds a file's bytes as they are. */
  readonly plainObjects = true;
  private seq = 0;

  private constructor(readonly dir: string) {}

  static async create(dir: string): Promise<PlainContentStore> {
    await mkdir(join(dir, "txn"), { recursive: true });
    return new PlainContentStore(dir);
  }

  objectPath(hash: string, suffix: ObjectSuffix): string {
    return join(this.dir, hash.slice(0, 2), hash.slice(2) + suffix);
  }

  async putFile(body: Readable | AsyncIterable<Uint8Array>): Promise<FileContent> {
    const tmp = join(this.dir, "txn", `${process.pid}-${this.seq++}-${randomBytes(4).toString("hex")}`);
    const fh = await open(tmp, "wx", 0o600);
    const hash = createHash("sha1");
    let size = 0;
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.length;
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
      }
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    const hex = hash.digest("hex");
    await this.place(tmp, hex, "");
    return { size, hash: hex };
  }

  async putBuffer(bytes: Uint8Array, suffix: ObjectSuffix): Promise<string> {
    const hex = createHash("sha1").update(bytes).digest("hex");
    const tmp = join(this.dir, "txn", `${process.pid}-${this.seq++}-${randomBytes(4).toString("hex")}`);
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(bytes);
    } finally {
      await fh.close();
    }
    await this.place(tmp, hex, suffix);
    return hex;
  }

  private async place(tmp: string, hex: string, suffix: ObjectSuffix): Promise<void> {
    const path = this.objectPath(hex, suffix);
    if (await this.has(hex, suffix)) {
      await rm(tmp, { force: true });
      return;
    }
    await mkdir(join(this.dir, hex.slice(0, 2)), { recursive: true });
    await rename(tmp, path);
  }

  async has(hash: string, suffix: ObjectSuffix): Promise<boolean> {
    try {
      await access(this.objectPath(hash, suffix));
      return true;
    } catch {
      return false;
    }
  }

  readFile(content: FileContent): Readable {
    if (content.hash === null || content.chunks?.length) {
      throw new RepositoryError("plain content store: chunked content is not from this store");
    }
    return createReadStream(this.objectPath(content.hash, ""), { highWaterMark: 1 << 20 });
  }
}

/** Whether `store` keeps plain bytes at `objectPath(hash, "")` (so a file can be copied, not inflated). */
export function hasPlainObjects(store: ContentStore): store is ContentStore & { plainObjects: true } {
  return (store as { plainObjects?: unknown }).plainObjects === true;
}
